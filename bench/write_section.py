"""Writes one "## <title>" section of bench/RESULTS.md, the benchmark scripts' shared last step.

    SECTION="## Title ..." python3 bench/write_section.py RESULTS.md "Title"

The section (from the SECTION environment variable, starting with its "## <title>" heading)
replaces the old one of that title, or is added at the end. A hand-written "### Notes" part of
the old section (readings, analysis, A/B runs) is kept after the new figures.
"""

import os
import re
import sys

path, title = sys.argv[1], sys.argv[2]
section = os.environ["SECTION"].rstrip() + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pattern = re.compile(r"^## " + re.escape(title) + r"[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
found = pattern.search(text)
if found:
    old = found.group(0)
    notes = old[old.index("### Notes"):].rstrip() + "\n" if "### Notes" in old else ""
    text = pattern.sub(lambda _: section + ("\n" + notes if notes else "") + "\n", text, count=1)
else:
    text = text.rstrip() + "\n\n" + section
with open(path, "w") as out:
    out.write(text.rstrip() + "\n")
