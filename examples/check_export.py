"""Loads a model exported by `legodnn export` in plain PyTorch (no LegoDNN) and measures its test
accuracy on an image folder's test/ split, normalized like legodnn does.

usage: /usr/bin/python3 check_export.py MODEL.pt|MODEL.ptl IMAGE_FOLDER SIZE [EXPECTED_PERCENT]

With EXPECTED_PERCENT (what `legodnn eval` measured for the same composition), exits 1 unless the
two agree within max(1 point, 2 images): the images are resized by PIL here and by stb_image_resize
in legodnn, so a few borderline images may go either way.
"""
import json
import sys

import torch
import torchvision
from torchvision import transforms


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
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
    accuracy = 100 * correct / len(test)
    print(f'{path}: sparsities {meta.get("sparsities", "?")}, test accuracy in PyTorch {accuracy:.2f}% '
          f'on {len(test)} images')
    if len(sys.argv) == 5:
        expected = float(sys.argv[4])
        tolerance = max(1.0, 200 / len(test))
        if abs(accuracy - expected) > tolerance:
            sys.exit(f'{path}: PyTorch measures {accuracy:.2f}%, legodnn measured {expected:.2f}% '
                     f'(more than {tolerance:.2f} points apart)')
        print(f'  agrees with legodnn eval ({expected:.2f}%) within {tolerance:.2f} points')


if __name__ == '__main__':
    main()
