#!/usr/bin/env python3
"""Counts test cases in Bazel's test logs (gtest XML) and prints the skip reasons.

test_summary.py [TESTLOGS]: prints the skipped cases with their reasons, then one line:
"N passed, N failed, N skipped". Exits 1 if any case failed or no case ran at all.

test_summary.py --collect TESTLOGS DEST LABEL...: copies the named tests' logs to DEST, so that
several bazel runs (one per sanitizer configuration, all writing the same bazel-testlogs) can be
counted together afterwards. A test without a log (it did not build) is recorded as one failed
case. Exits 1 if any was missing.
"""
import os
import shutil
import sys
from xml.sax.saxutils import quoteattr
import xml.etree.ElementTree as ET


def main(testlogs):
    passed = failed = skipped = 0
    reasons = []
    for root, _, files in os.walk(testlogs):
        if "test.xml" not in files:
            continue
        try:
            tree = ET.parse(os.path.join(root, "test.xml"))
        except ET.ParseError as e:
            print(f"unreadable test log {root}/test.xml: {e}")
            failed += 1
            continue
        for case in tree.iter("testcase"):
            name = f"{case.get('classname', '')}.{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.get("result") == "skipped" or case.find("skipped") is not None:
                skipped += 1
                node = case.find("skipped")
                why = (node.get("message") if node is not None else "") or ""
                reasons.append(f"  skipped {name}: {why.strip().splitlines()[-1] if why.strip() else ''}")
            elif case.get("status") == "notrun":
                skipped += 1
            else:
                passed += 1
    if reasons:
        print("\n".join(sorted(set(reasons))))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


def collect(testlogs, dest, labels):
    missing = 0
    for label in labels:
        rel = label.lstrip("/").replace(":", "/")
        src = os.path.join(testlogs, rel, "test.xml")
        out = os.path.join(dest, rel)
        os.makedirs(out, exist_ok=True)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out, "test.xml"))
            continue
        missing += 1
        print(f"no test log for {label}")
        with open(os.path.join(out, "test.xml"), "w") as f:
            f.write(f'<testsuites><testsuite><testcase classname={quoteattr(label)} '
                    f'name="test log"><failure message="no test log"/></testcase>'
                    f'</testsuite></testsuites>\n')
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--collect":
        sys.exit(collect(sys.argv[2], sys.argv[3], sys.argv[4:]))
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs"))
