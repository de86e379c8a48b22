# CIFAR-100 as a stage-2 target at 224 x 224 (see cifar10.py).
_base_ = ['./cifar10.py']
emoreg_target = 'cifar100'
dataset_type = 'HeldOutCIFAR100'
data_root = 'data/cifar100'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
