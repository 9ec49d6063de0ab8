"""Runs the Community Notes reference matrix factorisation on a ratings table.

Common Ground's driver for the vendored reference (communitynotes/, twitter/communitynotes at
273c895, Apache-2.0: see NOTICE). Reads `rater,note,value` CSV, fits the reference's
MatrixFactorization with its defaults (one factor; lambda_f 0.03, lambda_i 0.15; Adam until the loss
moves by less than 1e-7), gives each note a status with the reference's thresholds, and writes
JSON. Times the fit (wall and CPU seconds) so that it can be set beside ours.
"""

import argparse
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "communitynotes"))
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from scoring import constants as c  # noqa: E402
from scoring.matrix_factorization.matrix_factorization import MatrixFactorization  # noqa: E402

# The reference's status thresholds (mf_base_scorer.py defaults; note_ratings.is_crh,
# is_crnh_diamond; scoring_rules.FilterLargeFactor), and the two-sided requirement both scorers share.
MIN_RATINGS_NEEDED = 5
CRH_THRESHOLD = 0.40
FACTOR_THRESHOLD = 0.5
CRNH_THRESHOLD_INTERCEPT = -0.05
CRNH_THRESHOLD_NOTE_FACTOR_MULTIPLIER = -0.8


def statuses(notes, ratings, raters, min_raters_per_side):
  side = raters.set_index(c.raterParticipantIdKey)[c.internalRaterFactor1Key].apply(np.sign)
  rated = ratings.assign(side=ratings[c.raterParticipantIdKey].map(side))
  counts = rated.groupby(c.noteIdKey).agg(
    ratings=("side", "size"),
    negative=("side", lambda s: int((s < 0).sum())),
    positive=("side", lambda s: int((s > 0).sum())),
  )
  notes = notes.merge(counts, left_on=c.noteIdKey, right_index=True)
  intercept = notes[c.internalNoteInterceptKey]
  factor = notes[c.internalNoteFactor1Key].abs()
  enough = notes["ratings"] >= MIN_RATINGS_NEEDED
  crnh = enough & (intercept <= CRNH_THRESHOLD_INTERCEPT + CRNH_THRESHOLD_NOTE_FACTOR_MULTIPLIER * factor)
  crh = (
    enough
    & ~crnh
    & (intercept >= CRH_THRESHOLD)
    & (factor <= FACTOR_THRESHOLD)
    & (notes["negative"] >= min_raters_per_side)
    & (notes["positive"] >= min_raters_per_side)
  )
  notes["status"] = np.where(crnh, "not-helpful", np.where(crh, "helpful", "needs-more-ratings"))
  return notes


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--ratings", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--threads", type=int, default=1)
  parser.add_argument("--min-raters-per-side", type=int, default=2)
  parser.add_argument("--no-raters", action="store_true", help="leave the raters' parameters out of the output")
  parser.add_argument("--fixture", action="store_true", help="leave the timings out of the output, so that it is the same on every run")
  args = parser.parse_args()
  logging.basicConfig(level=logging.WARNING)
  for name in ("birdwatch", "birdwatch.matrix_factorization", "birdwatch.wandb_utils", "birdwatch.model", "birdwatch.constants"):
    logging.getLogger(name).setLevel(logging.WARNING)
  torch.set_num_threads(args.threads)

  table = pd.read_csv(args.ratings, dtype={"rater": str, "note": str, "value": np.float32})
  ratings = pd.DataFrame(
    {
      c.noteIdKey: table["note"],
      c.raterParticipantIdKey: table["rater"],
      c.helpfulNumKey: table["value"],
    }
  )
  mf = MatrixFactorization(seed=args.seed, log=False)
  wall = time.perf_counter()
  cpu = time.process_time()
  notes, raters, global_intercept = mf.run_mf(ratings)
  cpu = time.process_time() - cpu
  wall = time.perf_counter() - wall
  notes = statuses(notes, ratings, raters, args.min_raters_per_side)

  out = {
    "reference": "twitter/communitynotes@273c895 scoring/src/scoring/matrix_factorization",
    "versions": {"torch": torch.__version__, "numpy": np.__version__, "pandas": pd.__version__, "python": sys.version.split()[0]},
    "threads": args.threads,
    "ratingCount": int(len(ratings)),
    "seconds": round(wall, 3),
    "cpuSeconds": round(cpu, 3),
    "trainLoss": mf.get_final_train_error(),
    "globalIntercept": global_intercept,
    "notes": [
      {
        "note": row[c.noteIdKey],
        "intercept": round(float(row[c.internalNoteInterceptKey]), 6),
        "factor": round(float(row[c.internalNoteFactor1Key]), 6),
        "ratings": int(row["ratings"]),
        "negative": int(row["negative"]),
        "positive": int(row["positive"]),
        "status": row["status"],
      }
      for _, row in notes.iterrows()
    ],
  }
  if args.fixture:
    del out["seconds"], out["cpuSeconds"]
  if not args.no_raters:
    out["raters"] = [
      {
        "rater": row[c.raterParticipantIdKey],
        "intercept": round(float(row[c.internalRaterInterceptKey]), 6),
        "factor": round(float(row[c.internalRaterFactor1Key]), 6),
      }
      for _, row in raters.iterrows()
    ]
  with open(args.out, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
  print(json.dumps({"seconds": round(wall, 3), "cpuSeconds": round(cpu, 3), "ratings": out["ratingCount"]}))


if __name__ == "__main__":
  main()
