"""Data and environment lineage: DVC-tracked data, Git LFS pointers, torch precision."""
