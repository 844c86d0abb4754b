"""The eval suite: retrieval and triage quality on labelled data, tracked over time."""
