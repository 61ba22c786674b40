"""Class-conditional building blocks, shared by the conditional variants of every network.

Conditional networks take labels y, a (B,) int64 tensor of classes in [0, num_classes), and
require them: G(z, y), D(x, y).

- ``LabelConcatGenerator``: G(z, y) = net([z, embed(y)]), the conditioning of the original cGAN
  (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets").
- ``ConditionalBatchNorm2d``: batch norm whose per-channel gain and bias are embeddings of y
  (de Vries et al. 2017, "Modulating early visual processing by language"; Dumoulin et al. 2017;
  the generator of Miyato & Koyama 2018).
- ``ProjectionDiscriminator``: D(x, y) = w·φ(x) + b + ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018,
  "cGANs with Projection Discriminator", Eq. 3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

MAX_LABEL_EMBED_DIM = 32


def check_num_classes(num_classes: int) -> int:
    """``num_classes`` itself; ValueError unless there are at least two classes."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes!r}: must be >= 2")
    return num_classes


def label_embed_dim(num_classes: int) -> int:
    """Width of a generator's label embedding: min(num_classes, 32). One dimension per class
    (as wide as a one-hot code) up to 32, beyond which a wider code only adds parameters."""
    return min(check_num_classes(num_classes), MAX_LABEL_EMBED_DIM)


def require_labels(y: Tensor | None, net: nn.Module) -> Tensor:
    """``y``, or a ValueError saying that the class-conditional ``net`` needs labels."""
    if y is None:
        raise ValueError(f"{type(net).__name__} is class-conditional: it needs labels, "
                         "call it as net(input, y) with y a (B,) int64 tensor of classes")
    return y


class LabelConcatGenerator(nn.Module):
    """G(z, y) = net([z, embed(y)]) (Mirza & Osindero 2014): ``net`` takes z_dim + embed_dim
    inputs. The embedding keeps nn.Embedding's N(0, 1) initialisation, the scale of z."""

    def __init__(self, net: nn.Module, num_classes: int, embed_dim: int):
        super().__init__()
        self.embed = nn.Embedding(check_num_classes(num_classes), embed_dim)
        self.net = net

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        zy = torch.cat([z, self.embed(require_labels(y, self))], 1)  # (B, z_dim + embed_dim)
        return self.net(zy)  # (B, *shape)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d(affine=False) followed by a per-class affine map: x̂ · gain(y) + bias(y)
    (de Vries et al. 2017; Miyato & Koyama 2018). Gains start at 1 and biases at 0, so at
    initialisation it is exactly an affine BatchNorm2d at its own initialisation."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(check_num_classes(num_classes), num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        gain = self.gain(y)[:, :, None, None]  # (B, C, 1, 1)
        bias = self.bias(y)[:, :, None, None]  # (B, C, 1, 1)
        return self.norm(x) * gain + bias  # (B, C, H, W)


class LabelSequential(nn.Sequential):
    """nn.Sequential called as ``net(x, y)``: hands y to its ConditionalBatchNorm2d layers."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        for layer in self:
            x = layer(x, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class ProjectionDiscriminator(nn.Module):
    """Projection discriminator (Miyato & Koyama 2018): logit = w·φ(x) + b + ⟨embed(y), φ(x)⟩.

    ``features`` maps x to φ(x), the unconditional network's penultimate features; ``head`` is
    its last layer, a linear map from φ to one logit (w, b): nn.Linear(F, 1), or a convolution
    whose kernel covers the whole feature map. Either way its weight has one entry per feature,
    which sets the embedding's width F; φ is flattened for the inner product. The embedding is
    Xavier-uniform initialised, as in the paper's code.
    """

    def __init__(self, features: nn.Module, head: nn.Module, num_classes: int):
        super().__init__()
        self.features = features
        self.head = head
        self.embed = nn.Embedding(check_num_classes(num_classes), head.weight.numel())
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        y = require_labels(y, self)
        phi = self.features(x)  # (B, F) or (B, C, H, W) with F = C·H·W
        projection = (self.embed(y) * phi.flatten(1)).sum(1, keepdim=True)  # (B, 1)
        return self.head(phi).flatten(1) + projection  # (B, 1)
