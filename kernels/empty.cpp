// Keeps ll_kernels non-empty while areas are being filled in.
