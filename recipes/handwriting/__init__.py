"""Reading photos of handwritten digits: a product of its own beside the pipeline.

`preprocess` turns a photo into MNIST-like 28x28 inputs (ink, segmentation, centring);
`read` runs a trained model on them (`mnist-read`, `python -m recipes.predict`).
"""
