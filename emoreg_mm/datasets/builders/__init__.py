"""Builders that write a dataset the plugin's readers load.

- :mod:`.cifar_c`: a re-creation of CIFAR-10-C / CIFAR-100-C from the CIFAR
  test set (``tools/dataset_converters/build_cifar_c.py``).
- :mod:`.diffused_emod`: Diffused-EMOd, diffusion image-to-image variants of
  EMOd (``tools/dataset_converters/build_diffused_emod.py``), with its
  manifest (:mod:`.manifest`) and the diffusion model it loads
  (:mod:`.diffusion`).

Each needs an extra of its own (``corruptions``, ``diffusion``), imported
when a build starts.
"""


class BuildError(RuntimeError):
    """A problem with a build's inputs or output folder, found before or
    while building; the message names the file or option."""
