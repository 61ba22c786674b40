"""The project's own MNIST feature network: a small CNN classifier, trained deterministically.

No Inception weights can be had offline, so image metrics use this network instead, and every
result records the SHA-256 of its weights: numbers computed with different feature networks are
never silently compared. The hash is taken over the tensors' bytes in key order (``weights_hash``),
so it depends on the weights only, not on how the file was written.

Architecture: conv(1→32, 5) · ReLU · maxpool 2 · conv(32→64, 5) · ReLU · maxpool 2 ·
linear(1024→128) · ReLU (the 128 *features*) · linear(128→10). Input: 1 × 28 × 28 in [−1, 1];
32 × 32 inputs (MNIST padded for DCGAN) are centre-cropped to 28 × 28.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from thermogan.errors import CheckpointError


class MnistClassifier(nn.Module):
    """Small CNN; ``features(x)`` is the penultimate layer (B, 128)."""

    feature_dim = 128

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(64 * 4 * 4, self.feature_dim)
        self.fc2 = nn.Linear(self.feature_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        if x.shape[-1] == 32:
            x = x[..., 2:30, 2:30]  # (B, 1, 28, 28)
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 12, 12)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 64, 4, 4)
        return F.relu(self.fc1(h.flatten(1)))  # (B, 128)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.features(x))  # (B, 10) logits


def weights_hash(model: nn.Module) -> str:
    """SHA-256 over every tensor of the state dict (name, dtype, shape, bytes), in key order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def train_classifier(images: Tensor, labels: Tensor, epochs: int = 4, batch_size: int = 128,
                     lr: float = 1e-3, seed: int = 0, progress: bool = True) -> MnistClassifier:
    """Train deterministically (fixed seed, fixed batch order) with Adam, the learning rate
    decayed to 0 along a cosine over the run; returns the model."""
    torch.manual_seed(seed)
    model = MnistClassifier()
    opt = torch.optim.Adam(model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    with tqdm(total=steps, disable=not progress, desc="classifier", unit="step") as bar:
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=gen)
            for i in range(0, len(images), batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(model(images[idx]), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                decay.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return model.eval()


@torch.no_grad()
def accuracy(model: MnistClassifier, images: Tensor, labels: Tensor, batch: int = 1000) -> float:
    correct = sum(int((model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum())
                  for i in range(0, len(images), batch))
    return correct / len(images)


def save_classifier(model: MnistClassifier, path: str | Path) -> str:
    """Write the weights (state dict) and return their hash."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    return weights_hash(model)


def load_classifier(path: str | Path) -> tuple[MnistClassifier, str]:
    """The classifier at ``path`` and its weights hash; a bad file raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"classifier {path} does not exist; train it with "
                              "`thermogan data classifier`")
    model = MnistClassifier()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # truncated file, foreign file or other shapes
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"classifier {path} cannot be read ({reason[:200]})") from None
    return model.eval(), weights_hash(model)
