"""The vision skill: image classification per tenant (ONNX Runtime, no torch at run time)."""
