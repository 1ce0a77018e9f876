"""The segmentation output-head study: where the arg-max runs, measured per input size, head,
backend and precision, with each head's cost as agreement with variant 1 (host argmax)."""
