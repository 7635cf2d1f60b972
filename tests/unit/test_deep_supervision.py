"""Deep supervision: the training loss averages the main output's loss with every head the model kept
in ``aux_logits`` (U-Net++ / U-Net 3+), and the extra heads get gradients from it."""

from __future__ import annotations

import torch

from segstudio.models.registry import build_model
from segstudio.models.train.losses import supervised_loss


def test_loss_is_the_mean_over_main_and_heads():
    ce = torch.nn.CrossEntropyLoss()
    y = torch.tensor([[[0, 1], [1, 0]]])
    main, a1, a2 = (torch.randn(1, 2, 2, 2, generator=torch.Generator().manual_seed(s)) for s in range(3))

    class WithHeads(torch.nn.Module):
        aux_logits = [a1, a2]

    plain = torch.nn.Module()
    assert torch.allclose(supervised_loss(ce, main, y, plain), ce(main, y))
    expected = (ce(main, y) + ce(a1, y) + ce(a2, y)) / 3
    assert torch.allclose(supervised_loss(ce, main, y, WithHeads()), expected)


def test_unetpp_heads_get_gradients_in_training():
    torch.manual_seed(0)
    model = build_model("unetpp", 3, width=4, depth=2, deep_supervision=True).train()
    x, y = torch.randn(1, 3, 32, 32), torch.randint(0, 3, (1, 32, 32))
    loss = supervised_loss(torch.nn.CrossEntropyLoss(), model(x), y, model)
    assert len(model.aux_logits) == 2
    loss.backward()
    assert all(h.weight.grad is not None and h.weight.grad.abs().sum() > 0 for h in model.heads)
    model.eval()
    with torch.no_grad():
        model(x)
    assert model.aux_logits == []                    # inference keeps no heads
