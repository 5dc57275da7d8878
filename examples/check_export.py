"""Loads a model exported by `legodnn export` in plain PyTorch (no LegoDNN) and measures its test
accuracy on an image folder's test/ split, normalized like legodnn does.

usage: /usr/bin/python3 check_export.py MODEL.pt|MODEL.ptl IMAGE_FOLDER SIZE
"""
import json
import sys

import torch
import torchvision
from torchvision import transforms


def main():
    path, folder, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    extra = {'legodnn.json': ''}
    if path.endswith('.ptl'):
        from torch.jit.mobile import _load_for_lite_interpreter
        model = _load_for_lite_interpreter(path)
        meta = {}
    else:
        model = torch.jit.load(path, _extra_files=extra)
        meta = json.loads(extra['legodnn.json'] or '{}')
    plain = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    x = torch.stack([img for img, _ in torchvision.datasets.ImageFolder(folder + '/train', plain)])
    norm = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                               transforms.Normalize(x.mean((0, 2, 3)), x.std((0, 2, 3)))])
    test = torchvision.datasets.ImageFolder(folder + '/test', norm)
    correct = 0
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(test, batch_size=256):
            correct += (model(images).argmax(1) == labels).sum().item()
    print(f'{path}: sparsities {meta.get("sparsities", "?")}, test accuracy in PyTorch {100 * correct / len(test):.2f}% '
          f'on {len(test)} images')


if __name__ == '__main__':
    main()
