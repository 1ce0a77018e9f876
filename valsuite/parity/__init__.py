"""Parity (--compare): how faithfully each engine/precision reproduces torch FP32, over every sample.

config      CompareConfig, Candidate, --fail-under thresholds
candidates  which backend:precision pairs run, on which device
run         inputs -> reference and candidates side by side -> record (+ top-1 changes)
statistics  element-wise equality, top-k agreement, per-rank errors (ParityAccumulator)
localize    --localize: the first ONNX nodes whose outputs leave the tolerance
tables      the printed tables, rendered from the record only
"""

from valsuite.parity.candidates import default_candidates, parse_candidates
from valsuite.parity.config import (Candidate, CompareConfig, Threshold, check_thresholds, parse_fail_under,
                                    require_measurable)
from valsuite.parity.run import finish, random_batches, run_compare, write_outputs
from valsuite.parity.tables import decision_table, equality_table, rank_table, render_tables

__all__ = ["Candidate", "CompareConfig", "Threshold", "check_thresholds", "decision_table", "default_candidates",
           "equality_table", "finish", "parse_candidates", "parse_fail_under", "random_batches", "rank_table",
           "render_tables", "require_measurable", "run_compare", "write_outputs"]
