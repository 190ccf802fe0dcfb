"""On-site surveys and the feedback button (docs/surveys.md)."""
