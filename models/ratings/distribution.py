#!/usr/bin/env python3
"""Print the rated set's distribution as the Markdown README.md shows it:
valence and arousal counts, valence x arousal, day/night, people, labels,
themes and photos per source. Stdlib only.

Usage: python3 distribution.py [--ratings ratings.tsv] [--photos photos.tsv]
"""
import argparse
import collections
import csv
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def band(x, lo, hi):
    return "low" if x <= lo else ("high" if x >= hi else "mid")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ratings", default=os.path.join(HERE, "ratings.tsv"))
    ap.add_argument("--photos", default=os.path.join(HERE, "photos.tsv"))
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.ratings, newline="", encoding="utf-8"), delimiter="\t"))
    photos = {r["id"]: r for r in csv.DictReader(open(a.photos, newline="", encoding="utf-8"), delimiter="\t")}
    v = [int(r["valence"]) for r in rows]
    ar = [int(r["arousal"]) for r in rows]
    print(f"{len(rows)} rated photos.\n")
    for name, xs in (("Valence", v), ("Arousal", ar)):
        c = collections.Counter(xs)
        print(f"{name}: " + ", ".join(f"{k} → {c.get(k, 0)}" for k in range(1, 10)) + ".")
    print()
    grid = collections.Counter((band(x, 4, 6), band(y, 4, 6)) for x, y in zip(v, ar))
    print("| | calm (arousal ≤ 4) | moderate (5) | intense (≥ 6) |")
    print("| --- | --- | --- | --- |")
    for vb, label in (("high", "pleasant (valence ≥ 6)"), ("mid", "neutral (5)"), ("low", "unpleasant (≤ 4)")):
        print(f"| {label} | " + " | ".join(str(grid[(vb, ab)]) for ab in ("low", "mid", "high")) + " |")
    print()
    print(f"Arousal ≥ 6: {sum(x >= 6 for x in ar)}; valence ≤ 4: {sum(x <= 4 for x in v)}.")
    t = collections.Counter(r["time"] for r in rows)
    p = collections.Counter(r["people"] for r in rows)
    print("Time: " + ", ".join(f"{k} {n}" for k, n in t.most_common()) + ".")
    print("People: " + ", ".join(f"{k} {n}" for k, n in p.most_common()) + ".")
    first = collections.Counter(r["labels"].split(",")[0] or "(none)" for r in rows)
    print("Top label: " + ", ".join(f"{k} {n}" for k, n in first.most_common()) + ".")
    themes = collections.Counter(x for r in rows for x in r["themes"].split(",") if x)
    print("Themes: " + ", ".join(f"{k} {n}" for k, n in themes.most_common()) + ".")
    src = collections.Counter(photos[r["id"]]["package"] for r in rows if r["id"] in photos)
    print("\nPhotos per package: " + ", ".join(f"{k} {n}" for k, n in src.most_common()) + ".")


if __name__ == "__main__":
    main()
