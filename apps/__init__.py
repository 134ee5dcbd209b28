"""OA and online-approval stubs and their client traffic models (issue 4)."""
