"""libFuzzer targets built with Debian's clang, outside Bazel's gcc toolchain.

fuzz_test(name, srcs, deps_srcs, corpus, regressions) builds NAME_bin from every .cc in srcs and
deps_srcs with -fsanitize=fuzzer,address,undefined against Debian's abseil and protobuf, and
NAME, a test that replays the regression inputs and then fuzzes from the seed corpus for a
bounded time (FUZZ_SECONDS in the environment, default 30).
"""

_LIBS = "$$(pkg-config --libs absl_statusor absl_str_format absl_synchronization absl_strings " + \
        "absl_flat_hash_map absl_time protobuf)"

def fuzz_test(name, srcs, deps_srcs = [], corpus = [], regressions = []):
    all_srcs = srcs + deps_srcs
    native.genrule(
        name = name + "_bin",
        srcs = all_srcs,
        outs = [name + "_fuzzer"],
        cmd = "files=; for f in $(SRCS); do case $$f in *.cc) files=\"$$files $$f\";; esac; done; " +
              "clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined " +
              "-fno-sanitize-recover=all -w -I. -I$(GENDIR) $$files -o $@ " + _LIBS,
    )
    native.sh_test(
        name = name,
        size = "medium",
        srcs = ["//tools/fuzz:run_fuzzer.sh"],
        args = [
            "$(location :%s_bin)" % name,
            native.package_name() + "/corpus/" + name,
            native.package_name() + "/regressions/" + name,
        ],
        data = [":" + name + "_bin"] + corpus + regressions,
    )
