"""The Feast feature repository: feature_store.yaml + declarations, nothing else."""
