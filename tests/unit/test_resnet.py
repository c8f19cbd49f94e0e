"""ResNet-18 in plain torch: the architecture's size and shapes, and both stems."""

from __future__ import annotations

import torch

from training.resnet import BasicBlock, resnet18


def test_resnet18_has_the_papers_parameter_count() -> None:
    model = resnet18(num_classes=10)
    # the CIFAR stem (one 3×3 convolution) instead of the 7×7 one; otherwise torchvision's
    # resnet18 with a 10-class head: 11,173,962 parameters
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1]
    assert len(convs) + 1 == 18  # 17 convolutions with a 3×3 kernel + the classifier


def test_small_images_keep_full_resolution_through_the_first_stage() -> None:
    model = resnet18(num_classes=4, width=8).eval()
    x = torch.zeros(2, 3, 32, 32)
    assert model.stem(x).shape == (2, 8, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 4)


def test_the_imagenet_stem_shrinks_by_four() -> None:
    model = resnet18(num_classes=3, width=8, stem="imagenet").eval()
    assert model.stem(torch.zeros(1, 3, 64, 64)).shape == (1, 8, 16, 16)
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
