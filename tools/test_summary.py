#!/usr/bin/env python3
"""Counts test cases in Bazel's test logs (gtest XML) and prints the skip reasons.

Prints the skipped cases with their reasons, then one line: "N passed, N failed, N skipped".
Exits 1 if any case failed or no case ran at all.
"""
import os
import sys
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs"))
