"""Data layer: class mapping, dataset manifest, preprocessing presets, loaders."""
