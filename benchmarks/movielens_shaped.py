"""A generated MovieLens release in the CSV format of newer releases, shaped like ml-latest-small
(22 years, about 100,000 half-star ratings, CRLF line endings, tags), for measuring what a long,
sparse history costs (BENCHMARKS.md, "22 years of sparse history"). Not MovieLens data: each
user rates popular movies of three favourite genres more often and higher, and that is all the
taste it has. Seeded: the same arguments give the same bytes.

    python -m benchmarks.movielens_shaped --out /tmp/mls/src
    tastegraph import movielens --src /tmp/mls/src --out /tmp/mls/raw
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

GENRES = ("Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Film-Noir Horror IMAX "
          "Musical Mystery Romance Sci-Fi Thriller War Western").split()
TAGS = ("funny", "dark comedy", "Oscar (Best Picture)", "visually appealing", "twist ending, great")
# How long a user stays: an evening, a few days, most of a year, or years.
SPANS = (3600 * 5, 86400 * 3, 86400 * 200, 86400 * 2000)
LIKED = (0.5, 1, 1.5, 2, 2.5, 3, 3, 3.5, 3.5, 4, 4, 4, 4.5, 5, 5)
OTHER = (0.5, 1, 2, 2.5, 3, 3.5, 4)


def write_release(out: Path, users: int = 610, movies: int = 9681, first: dt.date = dt.date(1996, 3, 29),
                  last: dt.date = dt.date(2018, 9, 24), seed: int = 11) -> int:
    """movies.csv, ratings.csv and tags.csv under `out`; returns the number of ratings."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    ids = list(range(1, 20 * movies, 20))
    start = dt.datetime.combine(first, dt.time()).timestamp()
    end = dt.datetime.combine(last, dt.time()).timestamp()
    genres: dict[int, list[str]] = {}
    with open(out / "movies.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["movieId", "title", "genres"])
        for m in ids:
            genres[m] = rng.sample(GENRES, rng.randint(1, 3)) if rng.random() > 0.003 else ["(no genres listed)"]
            w.writerow([m, f'Movie "{m}", The ({rng.randint(1920, 2018)})', "|".join(genres[m])])
    popularity = [1 / (i + 10) ** 0.9 for i in range(len(ids))]
    order = ids[:]
    rng.shuffle(order)
    n = 0
    with open(out / "ratings.csv", "w", newline="", encoding="utf-8") as f, \
            open(out / "tags.csv", "w", newline="", encoding="utf-8") as t:
        ratings, tags = csv.writer(f, lineterminator="\r\n"), csv.writer(t, lineterminator="\r\n")
        ratings.writerow(["userId", "movieId", "rating", "timestamp"])
        tags.writerow(["userId", "movieId", "tag", "timestamp"])
        for user in range(1, users + 1):
            k = min(int(20 + rng.paretovariate(1.2) * 40), 2600, len(ids))  # never more than there are
            favourite = set(rng.sample(GENRES, 3))
            picked: set[int] = set()
            while len(picked) < k:
                for m in rng.choices(order, popularity, k=k * 2):
                    if len(picked) < k and (favourite & set(genres[m]) or rng.random() < 0.3):
                        picked.add(m)
            t0 = rng.uniform(start, end - 86400)
            span = rng.choice(SPANS)
            for m in sorted(picked):
                when = int(min(t0 + rng.random() * span, end))
                stars = rng.choice(LIKED) if favourite & set(genres[m]) else rng.choice(OTHER)
                if stars % 1 == 0:
                    rng.random()  # a draw the measured release made here: the same seed gives its bytes
                ratings.writerow([user, m, f"{stars:.1f}", when])
                n += 1
                if rng.random() < 0.036:
                    tags.writerow([user, m, rng.choice(TAGS), when + 10])
    return n


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder to write the release into")
    parser.add_argument("--users", type=_positive, default=610)
    parser.add_argument("--movies", type=_positive, default=9681)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    try:
        n = write_release(args.out, args.users, args.movies, seed=args.seed)
    except OSError as exc:
        parser.error(f"cannot write into {args.out}: {exc.strerror or exc}")
    print(f"wrote {n:,} ratings of {args.users:,} users and {args.movies:,} movies into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
