"""Builds test payloads: static x86-64 musl programs that km runs as guests."""

_MUSL = "/usr/lib/x86_64-linux-musl"

def payload(name, src = None, copts = ["-g", "-O0"], pie = False):
    """One genrule producing the static binary `name` from `src` (default: name + ".c").

    Args:
      name: the payload and target name.
      src: the C source.
      copts: compiler options besides the static/PIE ones.
      pie: build a static-pie (ET_DYN without PT_INTERP). musl-gcc's specs file always passes
        -dynamic-linker and starts with Scrt1.o, which does not relocate itself, so the link line
        names rcrt1.o (musl's self-relocating start) and asks ld for -pie and no interpreter.
    """
    src = src or name + ".c"
    opts = " ".join(copts)
    if pie:
        crt = ("-nostartfiles {m}/rcrt1.o {m}/crti.o $$(musl-gcc -print-file-name=crtbeginS.o) " +
               "$(location {src}) $$(musl-gcc -print-file-name=crtendS.o) {m}/crtn.o").format(
            m = _MUSL,
            src = src,
        )
        cmd = "musl-gcc -static -fPIE {opts} {crt} -Wl,-pie,--no-dynamic-linker,-z,text -pthread -o $@".format(
            opts = opts,
            crt = crt,
        )
    else:
        cmd = "musl-gcc -static {opts} $(location {src}) -pthread -o $@".format(opts = opts, src = src)
    native.genrule(
        name = name,
        srcs = [src],
        outs = ["bin/" + name],
        cmd = cmd,
        visibility = ["//visibility:public"],
    )
