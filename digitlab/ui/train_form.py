"""The Train tab's form: one widget for each of TrainConfig's form settings, each with its name and a sentence
that says what it does, in English and Simplified Chinese."""

from __future__ import annotations

import gradio as gr

from digitlab.data.registry import DATASETS, SOURCES
from digitlab.models import list_models
from digitlab.training.config import OPTIMIZERS
from digitlab.ui.components import CheckedDropdown, CheckedNumber, CheckedRadio, CheckedSlider
from digitlab.ui.lab import Lab
from digitlab.ui.text import L, words

SCRATCH, ACTIVE = "scratch", "active"

words({
    "tab.train": ("Train", "训练"),
    "train.dataset": ("Dataset", "数据集"),
    "train.dataset.info": ("What the model learns to read. 'folder' is your own images: a zip with one folder per "
                           "class.", "模型要学会识别什么。「folder」是你自己的图片：一个每类一个文件夹的 zip。"),
    "train.data": ("Data source", "数据来源"),
    "train.data.info": ("auto: the full data where it is found or can be downloaded, else the small sample shipped "
                        "with digitlab (the log says which).", "auto：能找到或下载完整数据就用完整数据，否则用 digitlab "
                        "自带的小样本（日志会说明用了哪个）。"),
    "train.data.local": ("; or type a folder on this machine", "；也可以输入本机上的一个文件夹"),
    "train.images_zip": ("Your images (zip of class folders)", "你的图片（每类一个文件夹的 zip）"),
    "train.view": ("Your images are", "你的图片是"),
    "train.view.info": ("Handwriting is read as ink on paper, photos as they are.", "手写字按纸上的墨迹读取，照片按原样读取。"),
    "train.view.glyph": ("handwriting", "手写"), "train.view.photo": ("photos", "照片"),
    "train.arch": ("Architecture", "网络结构"),
    "train.arch.info": ("The network's shape. speednet is small and quick; digitnet deeper and more accurate; mlp "
                        "has no convolutions.", "网络的形状。speednet 小而快；digitnet 更深、更准；mlp 没有卷积层。"),
    "train.epochs": ("Epochs", "轮数（epoch）"),
    "train.epochs.info": ("One epoch is one pass over all the training images.", "一轮就是把所有训练图片看一遍。"),
    "train.batch_size": ("Batch size", "批大小（batch）"),
    "train.batch_size.info": ("Images the model looks at before each step of learning.", "每学习一步之前模型看的图片数。"),
    "train.lr": ("Peak learning rate", "最大学习率"),
    "train.lr.info": ("How big each step is. It rises to this and falls to almost nothing by the end (one-cycle).",
                      "每一步走多大。先升到这个值，再在结束前降到几乎为零（one-cycle）。"),
    "train.optimizer": ("Optimizer", "优化器"),
    "train.optimizer.info": ("How each step is taken: AdamW adapts to each weight; SGD follows the gradient with "
                             "momentum.", "每一步怎么走：AdamW 为每个权重自适应；SGD 带动量沿梯度走。"),
    "train.augment": ("Augment", "数据增强"),
    "train.augment.info": ("Shows each image a little shifted, turned, thicker or thinner (photos: mirrored), so "
                           "the model reads writing it has not seen.",
                           "每张图会被稍微平移、旋转、加粗或变细（照片：镜像），让模型能读懂没见过的写法。"),
    "train.decline": ("Learn to say \"not one of mine\"", "学会说「这不是我认识的」"),
    "train.decline.info": ("From halfway on, also shows the model letters, shapes and scribbles shipped with "
                           "digitlab (the training loss rises a little there), so that it answers ? to what is none of "
                           "its classes. It costs a few tenths of a point of accuracy; untick it when your classes are "
                           "letters or shapes.", "从一半开始，同时让模型看 digitlab 自带的字母、图形和乱涂（训练损失会在"
                           "那里上升一点），让它对不属于任何类别的东西回答 ?。准确率会低零点几个百分点；如果你的类别就是"
                           "字母或图形，请取消勾选。"),
    "train.init": ("Start", "起点"),
    "train.init.info": ("From scratch, or from the active model's weights (a new head when the classes differ).",
                        "从头开始，或从当前模型的权重开始（类别不同时换一个新的输出层）。"),
    "train.init.scratch": ("from scratch", "从头开始"), "train.init.active": ("from the active model", "从当前模型开始"),
    "train.freeze": ("When starting from a model", "从模型开始时"),
    "train.freeze.info": ("Fine-tune every layer, or train only the new head on top of the learned features.",
                          "微调所有层，或只训练新的输出层（保留学到的特征）。"),
    "train.freeze.none": ("fine-tune everything", "全部微调"), "train.freeze.backbone": ("train only the new head",
                                                                                      "只训练新的输出层"),
    "train.compile": ("torch.compile", "torch.compile"),
    "train.compile.info": ("Compiles the network for speed; falls back with a note where it cannot run.",
                           "编译网络以加快速度；无法运行时会自动退回并提示。"),
    "train.seed": ("Seed", "随机种子"),
    "train.seed.info": ("The same seed and settings give the same run.", "相同的种子和设置会得到相同的训练结果。"),
    "train.button": ("Train", "开始训练"), "train.stop": ("Stop", "停止"),
    "train.idle": ("Pick the settings and press **Train**; the active model stays in use.",
                   "选好设置后按 **开始训练**；当前模型会一直可用。"),
    "train.loss": ("Loss", "损失"), "train.accuracy": ("Accuracy (%)", "准确率（%）"), "train.epoch": ("epoch", "轮"),
    "train.log": ("Log", "日志"), "train.use": ("Use this model", "使用这个模型"),
    "train.download": ("Download (zip: safetensors + config + card)", "下载（zip：safetensors + 配置 + 模型卡）"),
    "train.watch": ("**Test images, as the model reads them after each epoch** (green: right, red: wrong)",
                    "**每轮之后模型对测试图片的识别**（绿色：对，红色：错）"),
    "train.summary": ("Model summary", "模型结构"), "train.samples": ("**Training samples**", "**训练样本**"),
    "train.code": ("The code behind this run", "这次训练的代码"),
    "train.command": ("The command that repeats it", "重复这次训练的命令"),
    "train.script_button": ("Make a standalone PyTorch script", "生成独立的 PyTorch 脚本"),
    "train.script": ("train.py: torch, torchvision and safetensors only", "train.py：只需要 torch、torchvision 和 safetensors"),
    "train.code_note": ("The script trains the same architecture on the same data with the same recipe, written to "
                        "be read like a tutorial; its saved folder loads back into digitlab.",
                        "这个脚本用同样的数据、同样的方法训练同样的网络，写得像教程一样好读；它保存的文件夹可以再载入 digitlab。"),
    "train.split": ("images", "图片"), "train.train_split": ("train", "训练集"), "train.test_split": ("test", "测试集"),
    "train.loss_axis": ("loss", "损失"), "train.acc_axis": ("accuracy %", "准确率 %"),
    "train.compare": ("### Compare your runs", "### 比较你的训练"),
    "train.keep": ("Keep these runs (never dropped to make room)", "保留这些训练（不会为腾空间而删除）"),
    "train.recipe": ("**{dataset}**: {arch}, {epochs} epochs at learning rate {lr:g}{augment}. On the full data it "
                     "reaches about {reach}% in {seconds} s on two CPU cores.",
                     "**{dataset}**：{arch}，{epochs} 轮，学习率 {lr:g}{augment}。在完整数据上，两个 CPU 核大约 "
                     "{seconds} 秒达到约 {reach}%。"),
    "train.recipe_folder": ("**Your images**: {arch}, {epochs} epochs, augmented: few images need many passes and "
                            "varied copies.", "**你的图片**：{arch}，{epochs} 轮，带数据增强：图片少，需要多看几遍、"
                            "多些变化。"),
    "train.with_augment": (", augmented", "，带数据增强"),
    "train.far_below": ("This is well below what {dataset} usually reaches with these settings (about {reach}%): "
                        "try more epochs, the recipe's learning rate, or the full data instead of the sample.",
                        "这比 {dataset} 用这些设置通常能达到的（约 {reach}%）低很多：试试更多轮数、推荐的学习率，"
                        "或用完整数据代替样本。"),
    "train.sample_note": ("This run learned from the small sample ({n:,} images); the full data reaches more.",
                          "这次训练只用了小样本（{n:,} 张图片）；用完整数据能达到更高。"),
    "train.test_above": ("Test accuracy is above training accuracy here, and that is normal: training accuracy is "
                         "counted on augmented images while the weights still change during the epoch (and dropout "
                         "is on); test images are read clean by the finished epoch's model.",
                         "这里测试准确率高于训练准确率，这是正常的：训练准确率是在增强过的图片上、在一轮中权重还在变化时"
                         "（并且开着 dropout）统计的；测试图片是干净的，由一轮结束后的模型读取。"),
    "train.already": ("You already have a training running; stop it or wait for it to end.",
                      "你已经有一个训练在进行了；请先停止它或等它结束。"),
    "train.public_data": ("This public lab trains on named data only: choose auto, sample or download, or upload a "
                          "zip of your own images.", "这个公共实验室只用有名字的数据训练：请选择 auto、sample 或 "
                          "download，或上传你自己的图片 zip。"),
    "train.no_folder": ("The data folder {path} does not exist.", "数据文件夹 {path} 不存在。"),
    "train.upload_first": ("Upload a zip of your images first: one folder per class, e.g. cats/1.jpg, dogs/2.png.",
                           "请先上传你的图片 zip：每类一个文件夹，例如 cats/1.jpg、dogs/2.png。"),
    "train.zip_too_large": ("The zip is too large: the limit is {mb} MB.", "zip 太大了：上限是 {mb} MB。"),
    "train.head_needs_model": ("Training only the head needs a model to start from: choose 'from the active model'.",
                               "只训练输出层需要一个起点模型：请选择「从当前模型开始」。"),
    "train.stopping": ("Stopping after the current batch…", "将在当前这一批之后停止…"),
    "train.left": ("Leaving the line; nothing will be trained.", "已离开队列；不会进行训练。"),
    "train.nothing": ("Nothing is training right now.", "现在没有正在进行的训练。"),
    "train.first": ("Train a model first; there is no new model to use yet.", "请先训练一个模型；现在还没有新模型可用。"),
})



def widget(name: str, lab: Lab) -> gr.components.Component:
    """The form's widget of one TrainConfig setting."""
    policy, label, info = lab.policy, L(f"train.{name}"), L(f"train.{name}.info")
    if name == "dataset":
        return CheckedDropdown(list(DATASETS), value="mnist", label=label, info=info, elem_id="train-dataset")
    if name == "data":
        return CheckedDropdown(list(SOURCES), value="auto", label=label, info=info, elem_id="train-source",
                               allow_custom_value=not policy.public)  # a folder on this machine, locally
    if name == "view":
        return CheckedRadio([(L("train.view.glyph"), "glyph"), (L("train.view.photo"), "photo")], value="glyph",
                            label=label, info=info, visible=False, elem_id="train-view")
    if name == "arch":
        return CheckedDropdown(list_models(), value="speednet", label=label, info=info, elem_id="train-arch")
    if name == "epochs":
        return CheckedSlider(1, policy.max_epochs, value=3, step=1, label=label, info=info, elem_id="train-epochs")
    if name == "batch_size":
        return CheckedSlider(16, policy.max_batch_size, value=256, step=16, label=label, info=info,
                             elem_id="train-batch")
    if name == "lr":
        return CheckedNumber(1e-2, label=label, info=info, minimum=0, elem_id="train-lr")
    if name == "optimizer":
        return CheckedRadio(list(OPTIMIZERS), value="adamw", label=label, info=info, elem_id="train-optimizer")
    if name == "augment":
        return gr.Checkbox(True, label=label, info=info, elem_id="train-augment")
    if name == "decline":
        return gr.Checkbox(True, label=label, info=info, elem_id="train-decline")
    if name == "init":
        return CheckedRadio([(L("train.init.scratch"), SCRATCH), (L("train.init.active"), ACTIVE)], value=SCRATCH,
                            label=label, info=info, elem_id="train-start")
    if name == "freeze":
        return CheckedRadio([(L("train.freeze.none"), "none"), (L("train.freeze.backbone"), "backbone")],
                            value="none", label=label, info=info, visible=False, elem_id="train-freeze")
    if name == "compile":
        return gr.Checkbox(False, label=label, info=info, elem_id="train-compile")
    if name == "seed":
        return CheckedNumber(0, precision=0, label=label, info=info, elem_id="train-seed")
    raise ValueError(f"the Train form has no widget for the setting {name!r}")
