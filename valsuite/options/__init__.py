"""Typed option groups: what a user types, as dataclasses every layer may import (no argparse state)."""
