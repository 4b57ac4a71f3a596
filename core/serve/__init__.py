"""Serving a bundle (DESIGN §10): MLServer over the Open Inference Protocol v2, a shadow
teacher, and a crash-safe prediction log. Heavy imports (MLServer, onnxruntime, Presidio)
happen inside the functions that need them."""
