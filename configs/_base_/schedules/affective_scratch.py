# Stage 1 for a backbone trained from scratch (the CIFAR ResNet-18): the
# emotions learned from random weights with mmpretrain's from-scratch CIFAR
# recipe (configs/_base_/schedules/cifar10_bs128.py, the ResNet recipe of He
# et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Sec.
# 4.2): SGD lr 0.1, momentum 0.9, weight decay 1e-4, total batch 128, 200
# epochs, lr x0.1 at epochs 100 and 150. The fine-tuning rule of
# schedules/affective_pretrain.py (about 500 steps below 20k images) is
# made for ImageNet-initialised backbones; a from-scratch encoder needs the
# full recipe to hold an affective state worth regulating with.
# This project's part, scaling to the set's size: the 200 epochs stay (each
# image is seen as often as a CIFAR image in the source), so the steps grow
# with the set; on sets under 512 images the total batch is the largest
# power of two <= n / 4 (at least four steps per epoch), with lr 0.1 x
# batch / 128 (linear scaling). Each stage-1 leaf states its batch and lr.
# The recipe is the one stage 2 of this backbone uses (resnet_cifar.py):
# inherited from there, not written twice.
_base_ = ['./resnet_cifar.py']
