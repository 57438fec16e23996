/// The application builders (Keras's applications and the historical networks): every one declares without libtorch with
/// Keras's exact parameter counts, names and feature sizes; invalid arguments raise Keras's errors; a few are built and run
/// at small inputs so that inferred shapes meet real ones. Also the layers they brought: Rescaling, Normalization,
/// CustomScaleLayer and Dropout's noiseShape.
module Functional.Tests.ApplicationsTests

open System
open System.IO
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support

/// Expected (name, builder, model name, total, non-trainable, total without the top, feature size with pooling).
type KerasCase =
    { App: string
      Build: bool -> string -> Model
      ModelName: string
      Total: int64
      NonTrainable: int64
      NoTop: int64
      Features: int }

let private case app build modelName total nonTrainable noTop features =
    { App = app; Build = build; ModelName = modelName; Total = total; NonTrainable = nonTrainable; NoTop = noTop; Features = features }

let private pool (p: string) = if isNull p then null else p

/// The counts Keras's model.summary() prints for each application with include_top=True, classes=1000 (total and
/// non-trainable), and the total with include_top=False; the feature size is the last block's channels.
let kerasCases =
    [ case "VGG16" (fun top p -> Applications.VGG16(includeTop = top, pooling = pool p)) "vgg16" 138_357_544L 0L 14_714_688L 512
      case "VGG19" (fun top p -> Applications.VGG19(includeTop = top, pooling = pool p)) "vgg19" 143_667_240L 0L 20_024_384L 512
      case "ResNet50" (fun top p -> Applications.ResNet50(includeTop = top, pooling = pool p)) "resnet50" 25_636_712L 53_120L 23_587_712L 2048
      case "ResNet101" (fun top p -> Applications.ResNet101(includeTop = top, pooling = pool p)) "resnet101" 44_707_176L 105_344L 42_658_176L 2048
      case "ResNet152" (fun top p -> Applications.ResNet152(includeTop = top, pooling = pool p)) "resnet152" 60_419_944L 151_424L 58_370_944L 2048
      case "ResNet50V2" (fun top p -> Applications.ResNet50V2(includeTop = top, pooling = pool p)) "resnet50v2" 25_613_800L 45_440L 23_564_800L 2048
      case "InceptionV3" (fun top p -> Applications.InceptionV3(includeTop = top, pooling = pool p)) "inception_v3" 23_851_784L 34_432L 21_802_784L 2048
      case "InceptionResNetV2" (fun top p -> Applications.InceptionResNetV2(includeTop = top, pooling = pool p)) "inception_resnet_v2" 55_873_736L 60_544L 54_336_736L 1536
      case "Xception" (fun top p -> Applications.Xception(includeTop = top, pooling = pool p)) "xception" 22_910_480L 54_528L 20_861_480L 2048
      case "MobileNet" (fun top p -> Applications.MobileNet(includeTop = top, pooling = pool p)) "mobilenet_1.00_224" 4_253_864L 21_888L 3_228_864L 1024
      case "MobileNetV2" (fun top p -> Applications.MobileNetV2(includeTop = top, pooling = pool p)) "mobilenetv2_1.00_224" 3_538_984L 34_112L 2_257_984L 1280
      case "DenseNet121" (fun top p -> Applications.DenseNet121(includeTop = top, pooling = pool p)) "densenet121" 8_062_504L 83_648L 7_037_504L 1024
      case "DenseNet169" (fun top p -> Applications.DenseNet169(includeTop = top, pooling = pool p)) "densenet169" 14_307_880L 158_400L 12_642_880L 1664
      case "DenseNet201" (fun top p -> Applications.DenseNet201(includeTop = top, pooling = pool p)) "densenet201" 20_242_984L 229_056L 18_321_984L 1920
      case "EfficientNetB0" (fun top p -> Applications.EfficientNetB0(includeTop = top, pooling = pool p)) "efficientnetb0" 5_330_571L 42_023L 4_049_571L 1280
      case "NASNetMobile" (fun top p -> Applications.NASNetMobile(includeTop = top, pooling = pool p)) "nasnet_mobile" 5_326_716L 36_738L 4_269_716L 1056
      case "NASNetLarge" (fun top p -> Applications.NASNetLarge(includeTop = top, pooling = pool p)) "nasnet_large" 88_949_818L 196_668L 84_916_818L 4032 ]

/// The larger EfficientNets: the exact sizes of Keras's applications table.
let efficientNetCases =
    [ "EfficientNetB1", (fun () -> Applications.EfficientNetB1()), 7_856_239L
      "EfficientNetB2", (fun () -> Applications.EfficientNetB2()), 9_177_569L
      "EfficientNetB3", (fun () -> Applications.EfficientNetB3()), 12_320_535L
      "EfficientNetB4", (fun () -> Applications.EfficientNetB4()), 19_466_823L
      "EfficientNetB5", (fun () -> Applications.EfficientNetB5()), 30_562_527L
      "EfficientNetB6", (fun () -> Applications.EfficientNetB6()), 43_265_143L
      "EfficientNetB7", (fun () -> Applications.EfficientNetB7()), 66_658_687L ]

/// Keras's len(model.weights) for each application (include_top=True): every kernel, bias and statistic counted once.
let kerasWeightCounts: (string * (unit -> Model) * int) list =
    [ "Xception", (fun () -> Applications.Xception()), 236
      "ResNet50", (fun () -> Applications.ResNet50()), 320
      "ResNet50V2", (fun () -> Applications.ResNet50V2()), 272
      "ResNet101", (fun () -> Applications.ResNet101()), 626
      "ResNet101V2", (fun () -> Applications.ResNet101V2()), 544
      "ResNet152", (fun () -> Applications.ResNet152()), 932
      "ResNet152V2", (fun () -> Applications.ResNet152V2()), 816
      "DenseNet121", (fun () -> Applications.DenseNet121()), 606
      "DenseNet169", (fun () -> Applications.DenseNet169()), 846
      "DenseNet201", (fun () -> Applications.DenseNet201()), 1006
      "InceptionV3", (fun () -> Applications.InceptionV3()), 378
      "InceptionResNetV2", (fun () -> Applications.InceptionResNetV2()), 898
      "MobileNet", (fun () -> Applications.MobileNet()), 137
      "MobileNetV2", (fun () -> Applications.MobileNetV2()), 262
      "EfficientNetB0", (fun () -> Applications.EfficientNetB0()), 314
      "EfficientNetB1", (fun () -> Applications.EfficientNetB1()), 442
      "EfficientNetB7", (fun () -> Applications.EfficientNetB7()), 1040
      "NASNetMobile", (fun () -> Applications.NASNetMobile()), 1126
      "NASNetLarge", (fun () -> Applications.NASNetLarge()), 1546 ]

/// The number of weight tensors a declared model creates (Keras's len(model.weights)).
let weightCount (m: Model) =
    m.Operations |> Seq.sumBy (fun o -> match o.Layer with
                                        | null -> 0
                                        | l -> l.Parameters(o.Nodes.[0].InputShapes).Count)

let private conv k cin cout = int64 (k * k * cin * cout + cout)
let private dense cin cout = int64 (cin * cout + cout)

/// GoogLeNet's parameters from the paper's Table 1 (filters per branch of each Inception module), biases included.
let googLeNetParameters classes =
    let modules =
        [ 64, 96, 128, 16, 32, 32; 128, 128, 192, 32, 96, 64; 192, 96, 208, 16, 48, 64; 160, 112, 224, 24, 64, 64
          128, 128, 256, 24, 64, 64; 112, 144, 288, 32, 64, 64; 256, 160, 320, 32, 128, 128; 256, 160, 320, 32, 128, 128
          384, 192, 384, 48, 128, 128 ]
    let stem = conv 7 3 64 + conv 1 64 64 + conv 3 64 192
    let _, inception =
        modules
        |> List.fold (fun (c, total) (c1, r3, c3, r5, c5, pp) ->
            c1 + c3 + c5 + pp,
            total + conv 1 c c1 + conv 1 c r3 + conv 3 r3 c3 + conv 1 c r5 + conv 5 r5 c5 + conv 1 c pp) (192, 0L)
    stem + inception + dense 1024 classes

/// SE blocks of reduction 16 on ResNet-50's 3, 4, 6, 3 bottlenecks of 256, 512, 1024, 2048 channels (Hu et al., §4).
let seParameters =
    [ 3, 256; 4, 512; 6, 1024; 3, 2048 ]
    |> List.sumBy (fun (n, c) -> int64 n * (dense c (c / 16) + dense (c / 16) c))

/// Keras's _make_divisible.
let makeDivisible (v: float) =
    let r = max 8 (int (v + 4.0) / 8 * 8)
    if float r < 0.9 * v then r + 8 else r

/// MobileNetV2's parameters layer by layer from the paper's Table 2 (t, c, n, s) and Keras's rounding; BN has 4 weights per channel.
let mobileNetV2Parameters alpha classes =
    let bottlenecks = [ 1, 16, 1, 1; 6, 24, 2, 2; 6, 32, 3, 2; 6, 64, 4, 2; 6, 96, 3, 1; 6, 160, 3, 2; 6, 320, 1, 1 ]
    let first = makeDivisible (32.0 * alpha)
    let mutable c = first
    let mutable total = int64 (27 * first + 4 * first)
    for t, out, n, _ in bottlenecks do
        for _ in 1 .. n do
            let expanded = t * c
            let pw = makeDivisible (float (int (float out * alpha)))
            if t <> 1 then total <- total + int64 (c * expanded + 4 * expanded)
            total <- total + int64 (9 * expanded + 4 * expanded + expanded * pw + 4 * pw)
            c <- pw
    let last = if alpha > 1.0 then makeDivisible (1280.0 * alpha) else 1280
    total + int64 (c * last + 4 * last) + dense last classes

let private temporaryFile () =
    let path = Path.Combine(Path.GetTempPath(), sprintf "functional-apps-%s.safetensors" (Guid.NewGuid().ToString("N")))
    File.WriteAllBytes(path, [| 0uy |])
    path

let private layerNames (m: Model) = m.Operations |> Seq.map (fun o -> o.Name) |> Set.ofSeq

let private builtParameterCount (built: BuiltNetwork) =
    built.Weights |> Seq.sumBy (fun w -> w.Parameter.numel())

/// Builds the model, runs one random batch of one sample and returns the output shape (batch excluded).
let private forwardShape (model: Model) =
    use built = BuiltNetwork.Build(model)
    Expect.equal (builtParameterCount built) model.ParameterCount "built parameters = declared count"
    use scope = torch.NewDisposeScope()
    use x = torch.rand(model.InputShapes.[0].WithBatch(1L))
    use y = built.forward x
    y.shape |> Array.skip 1 |> Array.map int

[<Tests>]
let declarations =
    testList "Applications" [
        testList "Keras applications declare without libtorch with Keras's counts" [
            for c in kerasCases ->
                test c.App {
                    let m = c.Build true null
                    Expect.equal m.Name c.ModelName "Keras's model name"
                    Expect.equal m.ParameterCount c.Total "total params"
                    Expect.equal m.NonTrainableParameterCount c.NonTrainable "non-trainable params"
                    Expect.equal m.TrainableParameterCount (c.Total - c.NonTrainable) "trainable params"
                    Expect.equal m.OutputShapes.[0] (Shape 1000) "1000 probabilities"
                    let summary = m.Summary()
                    Expect.stringContains summary (sprintf "Total params: %s" (c.Total.ToString("N0", Globalization.CultureInfo.InvariantCulture))) "summary total"
                    Expect.stringContains summary "predictions" "the classifier keeps Keras's name"
                    let noTop = c.Build false null
                    Expect.equal noTop.ParameterCount c.NoTop "total params without the top"
                    Expect.equal noTop.OutputShapes.[0].Rank 3 "a feature map without pooling"
                    Expect.equal (noTop.OutputShapes.[0].Known(2)) c.Features "the feature map's channels"
                    for p in [ "avg"; "max" ] do
                        let pooled = c.Build false p
                        Expect.equal pooled.OutputShapes.[0] (Shape c.Features) (sprintf "%s pooling gives the documented feature size" p)
                        Expect.equal pooled.ParameterCount c.NoTop "pooling adds no parameters"
                }
        ]

        test "EfficientNetB1 to B7 have the exact sizes of Keras's applications table" {
            for app, build, total in efficientNetCases do
                let m: Model = build ()
                Expect.equal m.ParameterCount total app
        }

        test "every application has as many weight tensors as Keras's len(model.weights)" {
            for app, build, count in kerasWeightCounts do
                Expect.equal (weightCount (build ())) count app
            Expect.equal (weightCount (Applications.VGG16())) 32 "VGG16: a kernel and a bias for 16 layers"
        }

        test "ResNet101V2 and ResNet152V2 have the exact sizes of Keras's applications table" {
            Expect.equal (Applications.ResNet101V2().ParameterCount) 44_675_560L "ResNet101V2"
            Expect.equal (Applications.ResNet152V2().ParameterCount) 60_380_648L "ResNet152V2"
        }

        test "layer counts and names are Keras's" {
            Expect.equal (Applications.VGG16().Operations.Length) 23 "VGG16: input, 13 convolutions, 5 poolings, flatten, 3 dense"
            Expect.equal (Applications.VGG19().Operations.Length) 26 "VGG19"
            Expect.equal (Applications.ResNet50().Operations.Length) 177 "ResNet50's 177 layers"
            Expect.equal (Applications.MobileNetV2(includeTop = false).Operations.Length) 154 "MobileNetV2 base: 154 layers"
            for app, layers, build in
                [ "ResNet101", 347, (fun () -> Applications.ResNet101()); "ResNet152", 517, (fun () -> Applications.ResNet152())
                  "ResNet50V2 base", 190, (fun () -> Applications.ResNet50V2(includeTop = false))
                  "InceptionV3", 313, (fun () -> Applications.InceptionV3()); "InceptionResNetV2", 782, (fun () -> Applications.InceptionResNetV2())
                  "Xception base", 132, (fun () -> Applications.Xception(includeTop = false))
                  "DenseNet121", 429, (fun () -> Applications.DenseNet121()); "DenseNet169", 597, (fun () -> Applications.DenseNet169())
                  "DenseNet201", 709, (fun () -> Applications.DenseNet201())
                  // Keras's imagenet EfficientNetB0 base has 238: one more Rescaling (by 1/√stddev) that only pretrained weights add.
                  "EfficientNetB0 base", 237, (fun () -> Applications.EfficientNetB0(includeTop = false)) ] do
                let m: Model = build ()
                Expect.equal m.Operations.Length layers (sprintf "%s: len(model.layers)" app)
            let resnet = layerNames (Applications.ResNet50())
            for n in [ "input_layer"; "conv1_pad"; "conv1_conv"; "pool1_pool"; "conv2_block1_0_conv"; "conv3_block4_out"; "conv5_block3_3_bn"; "avg_pool" ] do
                Expect.isTrue (resnet.Contains n) n
            let v2 = layerNames (Applications.ResNet50V2())
            for n in [ "max_pooling2d"; "max_pooling2d_1"; "max_pooling2d_2"; "conv4_block6_2_pad"; "post_relu" ] do
                Expect.isTrue (v2.Contains n) n
            let inception = layerNames (Applications.InceptionV3())
            for n in [ "conv2d"; "conv2d_93"; "batch_normalization_93"; "activation_93"; "mixed10"; "mixed9_1"; "concatenate_1" ] do
                Expect.isTrue (inception.Contains n) n
            Expect.isFalse (inception.Contains "conv2d_94") "InceptionV3 has 94 convolutions"
            let irv2 = layerNames (Applications.InceptionResNetV2())
            for n in [ "block35_10_mixed"; "block17_20_conv"; "block8_10_conv"; "custom_scale_layer_39"; "conv_7b_ac" ] do
                Expect.isTrue (irv2.Contains n) n
            Expect.isFalse (irv2.Contains "block8_10_ac") "the last block has no activation"
            let effnet = layerNames (Applications.EfficientNetB0())
            for n in [ "rescaling"; "normalization"; "stem_conv_pad"; "block1a_se_excite"; "block2b_drop"; "block7a_project_bn"; "top_dropout" ] do
                Expect.isTrue (effnet.Contains n) n
            let xception = layerNames (Applications.Xception())
            for n in [ "block2_sepconv2_act"; "block14_sepconv2_act"; "add_11"; "conv2d_3"; "batch_normalization_3" ] do
                Expect.isTrue (xception.Contains n) n
            let mobilenet = layerNames (Applications.MobileNet())
            for n in [ "conv_pad_2"; "conv_dw_13_relu"; "conv_preds"; "reshape_2"; "global_average_pooling2d" ] do
                Expect.isTrue (mobilenet.Contains n) n
        }

        test "NASNet: Keras's cells, layer names, counts and feature maps" {
            // len(model.layers) counted from Keras's nasnet.py: a normal cell has 42 layers, a reduction cell 48, plus 9 where
            // _adjust_block halves the previous path and 3 where it projects it; stem, ReLU and the top add the rest.
            for app, layers, build in
                [ "NASNetMobile", 771, (fun () -> Applications.NASNetMobile()); "NASNetMobile base", 769, (fun () -> Applications.NASNetMobile(includeTop = false))
                  "NASNetLarge", 1041, (fun () -> Applications.NASNetLarge()); "NASNetLarge base", 1039, (fun () -> Applications.NASNetLarge(includeTop = false)) ] do
                let m: Model = build ()
                Expect.equal m.Operations.Length layers (sprintf "%s: len(model.layers)" app)
            let mobile = Applications.NASNetMobile()
            let names = layerNames mobile
            for n in [ "input_layer"; "stem_conv1"; "stem_bn1"; "reduction_conv_1_stem_1"; "reduction_pad_1_stem_1"
                       "separable_conv_1_pad_reduction_left1_stem_1"; "separable_conv_1_reduction_right1_stem_1"
                       "separable_conv_2_bn_reduction_left4_stem_1"; "reduction_left4_stem_1"; "reduction_right5_stem_1"
                       "reduction_add_1_stem_1"; "reduction_add3_stem_1"; "reduction_add4_stem_1"; "reduction_concat_stem_1"
                       "adjust_relu_1_stem_2"; "adjust_avg_pool_1_stem_2"; "adjust_conv_2_stem_2"; "adjust_bn_stem_2"
                       "adjust_relu_1_0"; "adjust_conv_projection_1"; "adjust_bn_1"; "normal_left3_0"; "normal_right4_3"
                       "separable_conv_1_normal_left5_12"; "normal_add_5_12"; "normal_concat_12"; "adjust_relu_1_5"; "adjust_relu_1_9"
                       "adjust_conv_projection_reduce_4"; "reduction_concat_reduce_8"
                       "zero_padding2d"; "zero_padding2d_3"; "cropping2d_3"; "concatenate_3"; "add"; "add_3"
                       "activation"; "activation_187"; "global_average_pooling2d"; "predictions" ] do
                Expect.isTrue (names.Contains n) n
            for n in [ "zero_padding2d_4"; "add_4"; "activation_188"; "adjust_relu_1_1"; "adjust_conv_projection_0" ] do
                Expect.isFalse (names.Contains n) (sprintf "no %s" n)
            let layer (m: Model) n = m.GetLayer(n).Nodes.[0].OutputShapes.[0]
            // 224 → 111 (3×3/2 valid) → 56 → 28 (stem cells) → 14 → 7; filters 44 · 2^k, six branches concatenated.
            for n, shape in [ "stem_bn1", Shape(111, 111, 32); "reduction_concat_stem_1", Shape(56, 56, 44); "reduction_concat_stem_2", Shape(28, 28, 88)
                              "adjust_bn_stem_2", Shape(56, 56, 22); "normal_concat_3", Shape(28, 28, 264); "reduction_concat_reduce_4", Shape(14, 14, 352)
                              "normal_concat_8", Shape(14, 14, 528); "normal_concat_12", Shape(7, 7, 1056) ] do
                Expect.equal (layer mobile n) shape n
            Expect.equal (layer mobile "cropping2d") (Shape(111, 111, 32)) "padded bottom/right then cropped top/left: shifted one pixel"
            Expect.equal (Applications.NASNetMobile(includeTop = false).OutputShapes.[0]) (Shape(7, 7, 1056)) "the feature map"
            let large = Applications.NASNetLarge(includeTop = false)
            Expect.equal large.OutputShapes.[0] (Shape(11, 11, 4032)) "331 → 165 → 83 → 42 → 21 → 11"
            let largeNames = layerNames large
            // skip_reduction: the first cell after each reduction halves the cell before the reduction, not its input.
            for n in [ "adjust_relu_1_7"; "adjust_relu_1_13"; "adjust_conv_projection_reduce_6"; "normal_concat_18"; "activation_259" ] do
                Expect.isTrue (largeNames.Contains n) n
            Expect.isFalse (largeNames.Contains "activation_260") "260 unnamed ReLUs"
            Expect.equal (layer large "normal_concat_5") (Shape(42, 42, 1008)) "168 filters × 6"
            Expect.equal (Applications.NASNetLarge(inputShape = Shape(32, 32, 3), classes = 10).OutputShapes.[0]) (Shape 10) "the minimum input with a top"
            Expect.equal (Applications.NASNetMobile(includeTop = false, inputShape = Shape(32, 32, 3)).OutputShapes.[0]) (Shape(1, 1, 1056)) "32 → 15 → 8 → 4 → 2 → 1"
            let bn = mobile.GetLayer("separable_conv_1_bn_normal_left1_0").Layer :?> BatchNormalization
            Expect.equal (bn.Momentum, bn.Epsilon) (0.9997, 1e-3) "NASNet's batch normalization"
        }

        test "alpha, depth multiplier and input sizes change MobileNets as in Keras" {
            let m = Applications.MobileNet(inputShape = Shape(128, 128, 3), alpha = 0.25)
            Expect.equal m.Name "mobilenet_0.25_128" "name from alpha and rows"
            // Keras's layers at alpha 0.25: int(filters · alpha) channels; batch normalization has 4 weights per channel.
            let widths = [ 64; 128; 128; 256; 256; 512; 512; 512; 512; 512; 512; 1024; 1024 ] |> List.map (fun f -> f / 4)
            let blocks = List.zip (8 :: List.take 12 widths) widths |> List.sumBy (fun (i, o) -> int64 (9 * i + 4 * i + i * o + 4 * o))
            Expect.equal m.ParameterCount (int64 (27 * 8 + 4 * 8) + blocks + conv 1 256 1000) "MobileNet 0.25, layer by layer"
            let v2 = Applications.MobileNetV2(inputShape = Shape(96, 96, 3), alpha = 0.35)
            Expect.equal v2.Name "mobilenetv2_0.35_96" "name"
            Expect.equal v2.ParameterCount (mobileNetV2Parameters 0.35 1000) "MobileNetV2 0.35, layer by layer"
            Expect.equal (mobileNetV2Parameters 1.0 1000) 3_538_984L "the layer-by-layer count reproduces Keras's alpha-1 total"
            let wide = Applications.MobileNetV2(alpha = 1.4, includeTop = false, pooling = "avg")
            Expect.equal wide.OutputShapes.[0] (Shape 1792) "alpha > 1 widens the last convolution to 1792"
            let dm = Applications.MobileNet(depthMultiplier = 2, includeTop = false)
            Expect.isTrue (dm.ParameterCount > 3_228_864L) "a depth multiplier adds depthwise filters"
        }

        test "historical networks follow their papers" {
            let lenet = Applications.LeNet5()
            Expect.equal lenet.ParameterCount (conv 5 1 6 + conv 5 6 16 + conv 5 16 120 + dense 120 84 + dense 84 10) "LeNet-5"
            Expect.equal lenet.ParameterCount 61_706L "LeNet-5's 61,706"
            Expect.equal lenet.OutputShapes.[0] (Shape 10) "10 digits"
            Expect.equal (lenet.GetLayer("C5").Nodes.[0].OutputShapes.[0]) (Shape(1, 1, 120)) "C5 gives 1x1 maps"
            let alex = Applications.AlexNet()
            Expect.equal (alex.GetLayer("conv1").Nodes.[0].OutputShapes.[0]) (Shape(55, 55, 96)) "55x55x96 after conv1"
            Expect.equal (alex.GetLayer("pool5").Nodes.[0].OutputShapes.[0]) (Shape(6, 6, 256)) "6x6x256 before fc6"
            Expect.equal alex.ParameterCount
                (conv 11 3 96 + conv 5 96 256 + conv 3 256 384 + conv 3 384 384 + conv 3 384 256 + dense 9216 4096 + dense 4096 4096 + dense 4096 1000)
                "single-tower AlexNet"
            Expect.equal alex.ParameterCount 62_378_344L "62.4M"
            let googlenet = Applications.GoogLeNet()
            Expect.equal googlenet.ParameterCount (googLeNetParameters 1000) "Table 1 of Szegedy et al."
            for n, shape in [ "pool1_3x3_s2", Shape(56, 56, 64); "inception_3b_output", Shape(28, 28, 480); "inception_4e_output", Shape(14, 14, 832)
                              "inception_5b_output", Shape(7, 7, 1024) ] do
                Expect.equal (googlenet.GetLayer(n).Nodes.[0].OutputShapes.[0]) shape n
            let nin = Applications.NiN(classes = 10)
            Expect.equal nin.ParameterCount
                (conv 11 3 96 + 2L * conv 1 96 96 + conv 5 96 256 + 2L * conv 1 256 256 + conv 3 256 384 + 2L * conv 1 384 384
                 + conv 3 384 10 + 2L * conv 1 10 10)
                "NiN: four mlpconv blocks"
            Expect.equal nin.OutputShapes.[0] (Shape 10) "global average pooling of one map per class"
            let se = Applications.SEResNet50()
            Expect.equal se.ParameterCount (25_636_712L + seParameters) "ResNet50 + 2/r·ΣN·C² SE weights and biases"
            Expect.equal se.ParameterCount 28_167_704L "28.2M"
            Expect.equal se.NonTrainableParameterCount 53_120L "SE adds no statistics"
            Expect.isTrue (Set.contains "conv3_block4_se_excite" (layerNames se)) "SE blocks are named after their bottleneck"
        }

        test "the weights argument: a path is kept, anything else is refused as Keras does" {
            let path = temporaryFile ()
            try
                let m = Applications.ResNet50(weights = path)
                Expect.equal m.WeightsFile (Path.GetFullPath path) "the declaration carries the file to load when built"
                Expect.isNull (Applications.ResNet50().WeightsFile) "random initialization"
                throwsWith<ArgumentException> [ "ResNet50"; "classifier_activation"; "relu" ] (fun () ->
                    Applications.ResNet50(weights = path, classifierActivation = "relu") |> ignore)
                Applications.ResNet50(weights = path, classifierActivation = null) |> ignore
            finally
                File.Delete path
            throwsWith<ArgumentException> [ "VGG16"; "`weights` argument should be either"; "no-such-file" ] (fun () ->
                Applications.VGG16(weights = "no-such-file.safetensors") |> ignore)
            throwsWith<NotSupportedException> [ "ResNet50"; "imagenet"; "download" ] (fun () -> Applications.ResNet50(weights = "imagenet") |> ignore)
            throwsWith<NotSupportedException> [ "LeNet5"; "no pretrained" ] (fun () -> Applications.LeNet5(weights = "imagenet") |> ignore)
            throwsWith<NotSupportedException> [ "SEResNet50"; "no pretrained" ] (fun () -> Applications.SEResNet50(weights = "imagenet") |> ignore)
        }

        test "invalid arguments raise Keras's errors" {
            throwsWith<ArgumentException> [ "ResNet50"; "Input size must be at least 32x32"; "(16, 16, 3)" ] (fun () ->
                Applications.ResNet50(includeTop = false, inputShape = Shape(16, 16, 3)) |> ignore)
            throwsWith<ArgumentException> [ "InceptionV3"; "at least 75x75" ] (fun () ->
                Applications.InceptionV3(includeTop = false, inputShape = Shape(74, 80, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Xception"; "at least 71x71" ] (fun () -> Applications.Xception(inputShape = Shape(70, 70, 3)) |> ignore)
            throwsWith<ArgumentException> [ "DenseNet121"; "tuple of three integers" ] (fun () -> Applications.DenseNet121(inputShape = Shape(64, 64)) |> ignore)
            throwsWith<ArgumentException> [ "ResNet50"; "`classes` should be 1000"; "classes=10" ] (fun () ->
                Applications.ResNet50(weights = "imagenet", classes = 10) |> ignore)
            throwsWith<ArgumentException> [ "VGG16"; "`input_shape` should be (224, 224, 3)"; "(224, 224, 1)" ] (fun () ->
                Applications.VGG16(weights = "imagenet", inputShape = Shape(224, 224, 1)) |> ignore)
            throwsWith<ArgumentException> [ "InceptionV3"; "`input_shape` should be (299, 299, 3)" ] (fun () ->
                Applications.InceptionV3(weights = "imagenet", inputShape = Shape(150, 150, 3)) |> ignore)
            throwsWith<ArgumentException> [ "MobileNetV2"; "must have 3 channels"; "(96, 96, 1)" ] (fun () ->
                Applications.MobileNetV2(includeTop = false, weights = "imagenet", inputShape = Shape(96, 96, 1)) |> ignore)
            throwsWith<ArgumentException> [ "EfficientNetB0"; "pooling"; "'mean'" ] (fun () ->
                Applications.EfficientNetB0(includeTop = false, pooling = "mean") |> ignore)
            throwsWith<ArgumentException> [ "NASNetMobile"; "Input size must be at least 32x32"; "(31, 40, 3)" ] (fun () ->
                Applications.NASNetMobile(includeTop = false, inputShape = Shape(31, 40, 3)) |> ignore)
            throwsWith<ArgumentException> [ "NASNetLarge"; "at least 32x32" ] (fun () -> Applications.NASNetLarge(inputShape = Shape(40, 16, 3)) |> ignore)
            throwsWith<ArgumentException> [ "NASNetMobile"; "`input_shape` should be (224, 224, 3)"; "(331, 331, 3)" ] (fun () ->
                Applications.NASNetMobile(weights = "imagenet", inputShape = Shape(331, 331, 3)) |> ignore)
            throwsWith<ArgumentException> [ "NASNetLarge"; "`input_shape` should be (331, 331, 3)"; "(224, 224, 3)" ] (fun () ->
                Applications.NASNetLarge(weights = "imagenet", inputShape = Shape(224, 224, 3)) |> ignore)
            throwsWith<ArgumentException> [ "NASNetLarge"; "`classes` should be 1000"; "classes=10" ] (fun () ->
                Applications.NASNetLarge(weights = "imagenet", classes = 10) |> ignore)
            throwsWith<ArgumentException> [ "NASNetMobile"; "must have 3 channels" ] (fun () ->
                Applications.NASNetMobile(includeTop = false, weights = "imagenet", inputShape = Shape(96, 96, 1)) |> ignore)
            throwsWith<ArgumentException> [ "NASNetMobile"; "classifier_activation"; "sigmoid" ] (fun () ->
                Applications.NASNetMobile(weights = "imagenet", classifierActivation = "sigmoid") |> ignore)
            throwsWith<NotSupportedException> [ "NASNetMobile"; "imagenet"; "download" ] (fun () -> Applications.NASNetMobile(weights = "imagenet") |> ignore)
            throwsWith<NotSupportedException> [ "NASNetLarge"; "imagenet" ] (fun () ->
                Applications.NASNetLarge(weights = "imagenet", includeTop = false, inputShape = Shape(64, 64, 3)) |> ignore)
            throwsWith<ArgumentException> [ "MobileNet"; "depth multiplier must be 1" ] (fun () ->
                Applications.MobileNet(weights = "imagenet", depthMultiplier = 2) |> ignore)
            throwsWith<ArgumentException> [ "MobileNet"; "alpha can be one of"; "0.3" ] (fun () ->
                Applications.MobileNet(weights = "imagenet", alpha = 0.3) |> ignore)
            throwsWith<ArgumentException> [ "MobileNetV2"; "alpha must be one of"; "0.6" ] (fun () ->
                Applications.MobileNetV2(weights = "imagenet", alpha = 0.6) |> ignore)
            throwsWith<ArgumentException> [ "ResNet50"; "classifier_activation"; "tanh" ] (fun () ->
                Applications.ResNet50(weights = "imagenet", classifierActivation = "tanh") |> ignore)
            throwsWith<ArgumentException> [ "Could not interpret activation" ] (fun () ->
                Applications.DenseNet121(classifierActivation = "nope") |> ignore)
            throwsWith<ArgumentException> [ "Dense"; "units" ] (fun () -> Applications.ResNet50(classes = 0) |> ignore)
            throwsWith<ArgumentException> [ "AlexNet"; "at least 67x67" ] (fun () -> Applications.AlexNet(inputShape = Shape(64, 64, 3)) |> ignore)
            throwsWith<ArgumentException> [ "LeNet5"; "at least 32x32"; "(28, 28, 1)" ] (fun () -> Applications.LeNet5(inputShape = Shape(28, 28, 1)) |> ignore)
            // With weights=None Keras accepts any channel count and any static size with the top.
            Expect.equal (Applications.ResNet50(inputShape = Shape(64, 64, 1), classes = 7).OutputShapes.[0]) (Shape 7) "grey images, 7 classes"
        }

        test "applications round-trip through Keras's JSON config" {
            for m in [ Applications.EfficientNetB0(); Applications.InceptionResNetV2(includeTop = false); Applications.MobileNet(alpha = 0.5)
                       Applications.NASNetMobile() ] do
                let back = ModelConfig.FromJson(m.ToJson()) :?> Model
                Expect.equal back m (sprintf "%s: FromJson(ToJson m) = m" m.Name)
            let json = Applications.EfficientNetB0().ToJson()
            Expect.stringContains json "\"class_name\": \"Rescaling\"" "Keras's preprocessing class"
            Expect.stringContains json "\"scale\": 0.00392156862745098" "a scalar scale stays a number"
            Expect.stringContains json "\"noise_shape\": [" "drop-connect keeps its noise shape"
        }

        test "inputTensor: the application is applied to an existing tensor, as Keras's input_tensor" {
            let image = Graph.Input(64, 64, 3)
            let scaled = (Rescaling(FloatTuple(1.0 / 127.5), FloatTuple(-1.0))).Call(image)
            let m = Applications.MobileNetV2(inputTensor = scaled, includeTop = false, pooling = "avg", alpha = 0.35)
            Expect.equal m.InputShapes.[0] (Shape(64, 64, 3)) "the source input"
            Expect.isTrue (Set.contains "rescaling" (layerNames m)) "layers before the tensor belong to the model"
            Expect.equal m.OutputShapes.[0] (Shape 1280) "features"
            throwsWith<ArgumentException> [ "differs" ] (fun () ->
                Applications.VGG16(inputTensor = image, inputShape = Shape(32, 32, 3), includeTop = false) |> ignore)
        }
    ]

[<Tests>]
let layers =
    testList "Applications layers" [
        test "Rescaling: shapes, arguments and errors" {
            Expect.equal ((Rescaling(0.5)).ComputeOutputShape(Shape(4, 4, 3))) (Shape(4, 4, 3)) "shape unchanged"
            Expect.equal ((Rescaling(FloatTuple.List(1.0, 2.0, 3.0))).ComputeOutputShape(Shape(4, 4, 3))) (Shape(4, 4, 3)) "per channel"
            Expect.equal ((Rescaling(2.0)).Offset) (FloatTuple 0.0) "offset 0 by default"
            Expect.isEmpty ((Rescaling(2.0)).Parameters(Shape 3)) "no weights"
            throwsWith<ShapeException> [ "Rescaling"; "'scale' holds 2 values"; "size 3" ] (fun () ->
                (Rescaling(FloatTuple.List(1.0, 2.0))).ComputeOutputShape(Shape(4, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Rescaling"; "scale" ] (fun () -> Rescaling(nan) |> ignore)
        }

        test "Normalization: Keras's weights, shapes and errors" {
            let n = Normalization(axis = IntTuple 3)
            let specs = n.Parameters(Shape(8, 8, 3))
            Expect.equal (specs |> Seq.map (fun p -> p.Name) |> List.ofSeq) [ "mean"; "variance"; "count" ] "Keras's weights"
            Expect.equal (specs |> Seq.sumBy (fun p -> p.Size)) 7L "3 + 3 + 1"
            Expect.isTrue (specs |> Seq.forall (fun p -> not p.Trainable)) "all non-trainable"
            let multi = Normalization(axis = IntTuple [| 1; -1 |])
            Expect.equal ((multi.Parameters(Shape(5, 4, 3))).[0].Shape) (Shape(5, 3)) "kept axes in order"
            Expect.isEmpty ((Normalization(mean = FloatTuple 3.0, variance = FloatTuple 2.0)).Parameters(Shape 4)) "given statistics are not weights"
            Expect.equal ((Normalization.OverAllAxes()).Parameters(Shape(2, 2))).[0].Shape (Shape(Array.empty<int>: int array)) "axis=None: scalars"
            throwsWith<ArgumentException> [ "both `mean` and `variance` must be set" ] (fun () -> Normalization(mean = FloatTuple 1.0) |> ignore)
            throwsWith<ArgumentException> [ "same shape"; "(3,)" ] (fun () ->
                Normalization(mean = FloatTuple.List(1.0, 2.0, 3.0), variance = FloatTuple 1.0) |> ignore)
            throwsWith<ShapeException> [ "range [-ndim, ndim)"; "ndim=3" ] (fun () -> n.ComputeOutputShape(Shape(4, 4)) |> ignore)
            throwsWith<ShapeException> [ "known shape" ] (fun () -> (Normalization(axis = IntTuple 0)).ComputeOutputShape(Shape 4) |> ignore)
            throwsWith<ShapeException> [ "cannot broadcast" ] (fun () ->
                (Normalization(mean = FloatTuple.List(1.0, 2.0), variance = FloatTuple.List(1.0, 1.0))).ComputeOutputShape(Shape(4, 3)) |> ignore)
        }

        test "CustomScaleLayer and Dropout's noiseShape: shapes and errors" {
            Expect.equal ((CustomScaleLayer(0.17)).ComputeOutputShape([| Shape(5, 5, 8); Shape(5, 5, 8) |])) (Shape(5, 5, 8)) "same shape"
            throwsWith<ShapeException> [ "CustomScaleLayer"; "same shape" ] (fun () ->
                (CustomScaleLayer(0.1)).ComputeOutputShape([| Shape(5, 5, 8); Shape(5, 5, 4) |]) |> ignore)
            let d = Dropout(0.2, NoiseShape = IntTuple [| -1; 1; 1; 1 |])
            Expect.equal (d.ComputeOutputShape(Shape(4, 4, 3))) (Shape(4, 4, 3)) "broadcasts"
            throwsWith<ShapeException> [ "noiseShape"; "rank 3" ] (fun () -> d.ComputeOutputShape(Shape(4, 4)) |> ignore)
            throwsWith<ShapeException> [ "noiseShape"; "cannot broadcast" ] (fun () ->
                (Dropout(0.2, NoiseShape = IntTuple [| -1; 2 |])).ComputeOutputShape(Shape 3) |> ignore)
            throwsWith<ArgumentException> [ "noiseShape" ] (fun () -> Dropout(0.2, NoiseShape = IntTuple [| -1; 0 |]) |> ignore)
        }
    ]

[<Tests>]
let native =
    testSequenced <| testList "Applications built" [
        test "preprocessing layers compute Keras's formulas" {
            torchReady 7
            let input = Graph.Input(2, 3)
            let r = (Rescaling(FloatTuple.List(1.0, 2.0, 3.0), FloatTuple 0.5)).Call(input)
            let n = (Normalization(mean = FloatTuple.List(1.0, 2.0, 3.0), variance = FloatTuple.List(4.0, 0.0, 9.0))).Call(r)
            use built = BuiltNetwork.Build(Model(input, n))
            let xs = [| 1.0f; 2.0f; 3.0f; -1.0f; 0.0f; 4.0f |]
            use x = torch.tensor(xs).reshape(1L, 2L, 3L)
            use y = built.forward x
            let actual = y.data<float32>().ToArray()
            let expected =
                xs |> Array.mapi (fun i v ->
                    let c = i % 3
                    let scaled = float v * float (c + 1) + 0.5
                    let mean, var = [| 1.0, 4.0; 2.0, 0.0; 3.0, 9.0 |].[c]
                    (scaled - mean) / max (sqrt var) 1e-7)
            for a, e in Array.zip actual expected do
                Expect.floatClose Accuracy.medium (float a) e "(x·scale + offset − mean) / max(√var, ε)"
            let adapted = Normalization(axis = IntTuple(-1), invert = true)
            use b2 = BuiltNetwork.Build(Model(input, adapted.Call(input)))
            let names = b2.Weights |> Seq.map (fun w -> w.Name) |> List.ofSeq
            Expect.equal names [ "normalization/mean"; "normalization/variance"; "normalization/count" ] "Keras's weight paths"
            Expect.isTrue (b2.Weights |> Seq.forall (fun w -> not w.Trainable)) "statistics are not trained"
            use y2 = b2.forward x
            Expect.sequenceEqual (y2.data<float32>().ToArray()) xs "mean 0, variance 1, inverted: identity"
        }

        test "drop-connect drops whole samples and CustomScaleLayer adds the scaled residual" {
            torchReady 11
            let input = Graph.Input(3, 3, 2)
            let dropped = (Dropout(0.5, NoiseShape = IntTuple [| -1; 1; 1; 1 |])).Call(input)
            use built = BuiltNetwork.Build(Model(input, dropped))
            built.train ()
            use x = torch.ones(64L, 3L, 3L, 2L)
            use y = built.forward x
            let perSample = y.reshape(64L, -1L).data<float32>().ToArray() |> Array.chunkBySize 18
            for s in perSample do
                Expect.isTrue (s |> Array.forall (fun v -> v = s.[0])) "one decision per sample"
                Expect.isTrue (s.[0] = 0.0f || s.[0] = 2.0f) "dropped or scaled by 1/(1 − rate)"
            Expect.isTrue (perSample |> Array.exists (fun s -> s.[0] = 0.0f) && perSample |> Array.exists (fun s -> s.[0] = 2.0f)) "both happen"
            let a = Graph.Input(2, 2, 3)
            let b = Graph.Input(2, 2, 3)
            use sum = BuiltNetwork.Build(Model([ a; b ], [ (CustomScaleLayer(0.25)).Call(a, b) ]))
            use xa = torch.rand(1L, 2L, 2L, 3L)
            use xb = torch.rand(1L, 2L, 2L, 3L)
            use out = sum.Forward([| xa; xb |]).[0]
            use expected = xa + xb * 0.25
            Expect.isTrue (out.allclose(expected)) "x + 0.25 · residual"
        }

        testList "inferred shapes agree with a real forward pass at small inputs" [
            let cases: (string * (unit -> Model)) list =
                [ "LeNet5", fun () -> Applications.LeNet5()
                  "AlexNet", fun () -> Applications.AlexNet(inputShape = Shape(67, 67, 3), classes = 5)
                  "NiN", fun () -> Applications.NiN(inputShape = Shape(67, 67, 3), classes = 10)
                  "GoogLeNet", fun () -> Applications.GoogLeNet(inputShape = Shape(32, 32, 3), classes = 10)
                  "MobileNet", fun () -> Applications.MobileNet(inputShape = Shape(32, 32, 3), alpha = 0.25, classes = 10)
                  "MobileNetV2", fun () -> Applications.MobileNetV2(inputShape = Shape(33, 33, 3), alpha = 0.35, includeTop = false)
                  "ResNet50", fun () -> Applications.ResNet50(inputShape = Shape(32, 32, 3), includeTop = false)
                  "ResNet50V2", fun () -> Applications.ResNet50V2(inputShape = Shape(35, 35, 3), classes = 10)
                  "EfficientNetB0", fun () -> Applications.EfficientNetB0(inputShape = Shape(33, 33, 3), includeTop = false)
                  "DenseNet121", fun () -> Applications.DenseNet121(inputShape = Shape(32, 32, 3), classes = 10)
                  "Xception", fun () -> Applications.Xception(inputShape = Shape(71, 71, 3), includeTop = false, pooling = "max")
                  "InceptionResNetV2", fun () -> Applications.InceptionResNetV2(inputShape = Shape(75, 75, 3), includeTop = false)
                  "NASNetMobile", fun () -> Applications.NASNetMobile(inputShape = Shape(32, 32, 3), classes = 10)
                  "NASNetMobile base, odd sizes", fun () -> Applications.NASNetMobile(inputShape = Shape(45, 37, 3), includeTop = false, pooling = "avg") ]
            for name, build in cases ->
                test name {
                    torchReady 3
                    let m = build ()
                    Expect.sequenceEqual (forwardShape m) (m.OutputShapes.[0].ToKnownArray()) "forward shape = inferred shape"
                }
        ]

        test "weights: a file saved by this library is loaded by Keras's names when the declared model is built" {
            torchReady 13
            let roundTrip (declare: string -> Model) (mismatch: string -> Model) (missing: string) =
                let path = Path.Combine(Path.GetTempPath(), sprintf "functional-apps-%s.safetensors" (Guid.NewGuid().ToString("N")))
                try
                    use saved = BuiltNetwork.Build(declare null)
                    saved.SaveWeights path
                    use loaded = BuiltNetwork.Build(declare path)
                    use fresh = BuiltNetwork.Build(declare null)
                    let same (a: BuiltNetwork) (b: BuiltNetwork) =
                        Seq.forall2 (fun (x: WeightBinding) (y: WeightBinding) -> x.Name = y.Name && x.Parameter.allclose(y.Parameter, 0.0, 0.0)) a.Weights b.Weights
                    Expect.isTrue (same saved loaded) "every weight, under Keras's names, comes back"
                    Expect.isFalse (same saved fresh) "without weights, a fresh random draw"
                    throwsWith<InvalidDataException> [ missing ] (fun () -> BuiltNetwork.Build(mismatch path) |> ignore)
                finally
                    File.Delete path
            roundTrip (fun w -> Applications.LeNet5(weights = w)) (fun w -> Applications.LeNet5(weights = w, classes = 5)) "predictions/kernel"
            // EfficientNet's Normalization keeps an int64 count among its weights; MobileNetV2 (a different net) does not fit it.
            roundTrip (fun w -> Applications.EfficientNetB0(weights = w, includeTop = false, inputShape = Shape(32, 32, 3)))
                (fun w -> Applications.MobileNetV2(weights = w, includeTop = false, inputShape = Shape(32, 32, 3), alpha = 0.35)) "Conv1/kernel"
        }

        test "a classifier's probabilities sum to one" {
            torchReady 5
            let m = Applications.MobileNetV2(inputShape = Shape(32, 32, 3), alpha = 0.35, classes = 7)
            use built = BuiltNetwork.Build(m)
            use x = torch.rand(2L, 32L, 32L, 3L)
            use y = built.forward x
            Expect.sequenceEqual y.shape [| 2L; 7L |] "batch of 2, 7 classes"
            use sums = y.sum(1L)
            for s in sums.data<float32>().ToArray() do
                Expect.floatClose Accuracy.medium (float s) 1.0 "softmax"
        }
    ]
