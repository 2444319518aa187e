"""Networks as data: a layer list of params.yaml built into a torch module (`layers`), the
training loop (`training`), RBM pretraining (`rbm`), and the scikit-learn estimator around
them (`classifier.NetClassifier`). `python -m recipes.nets summary NAME` prints a layer table."""

from recipes.nets.classifier import NetClassifier
from recipes.nets.layers import INPUT_SHAPE, N_CLASSES, build, count_params, has_conv, summary
from recipes.nets.training import pick_device, predict_logits, train_step

__all__ = ["NetClassifier", "INPUT_SHAPE", "N_CLASSES", "build", "count_params", "has_conv",
           "summary", "pick_device", "predict_logits", "train_step"]
