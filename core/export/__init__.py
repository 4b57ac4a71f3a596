"""The export stage: a verified, quantized ONNX bundle for on-prem serving (DESIGN §8).

Nothing is imported here: ``stillroom predict`` and ``stillroom bundle verify`` reach their
modules through this package and must not pull in torch or transformers.
"""
