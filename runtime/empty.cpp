// Placeholder translation unit for a runtime area that has no sources yet.
