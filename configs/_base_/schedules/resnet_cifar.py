# Stage 2 for ResNets: mmpretrain's CIFAR recipe (configs/_base_/schedules/
# cifar10_bs128.py): SGD lr 0.1, momentum 0.9, weight decay 1e-4, 200 epochs,
# lr x0.1 at epochs 100 and 150, total batch 128.
_base_ = ['mmpretrain::_base_/schedules/cifar10_bs128.py']
