"""The reconciler: watch and resync Applications, resolve each repository once, write back."""
