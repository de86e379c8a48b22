# CIFAR-100 at its native 32 x 32 for the cheap CIFAR-resolution ResNet
# (see cifar10_32px.py).
_base_ = ['./cifar10_32px.py']
emoreg_target = 'cifar100'
dataset_type = 'HeldOutCIFAR100'
data_root = 'data/cifar100'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
