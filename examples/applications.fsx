// Seed 002's classic networks in one line each: Keras's applications (layer for layer, Keras's names and parameter counts)
// and the historical nets (LeNet-5, AlexNet, NiN, GoogLeNet, SE-ResNet-50). Declaring needs no libtorch; the small ones are
// then built and run on a random batch. After one build (`dotnet build`), run:  dotnet fsi examples/applications.fsx
#load "../dsl/Functional.fsx"

open System
open System.Globalization
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Models
open Functional.Torch
open Functional.Torch.Building

// 1. LeNet-5 (LeCun et al. 1998), its whole Keras-style summary.
let lenet = Applications.LeNet5()
printf "%s" (lenet.Summary())

// 2. Every network, declared (shapes inferred, parameters counted) without building anything. The large ones are only
//    summarised: weights null means random initialisation when built; "imagenet" would need a download and is refused.
let count (n: int64) = n.ToString("N0", CultureInfo.InvariantCulture)
let networks: (string * (unit -> Model)) list =
    [ "VGG16", (fun () -> Applications.VGG16())
      "VGG19", (fun () -> Applications.VGG19())
      "ResNet50", (fun () -> Applications.ResNet50())
      "ResNet101", (fun () -> Applications.ResNet101())
      "ResNet152", (fun () -> Applications.ResNet152())
      "ResNet50V2", (fun () -> Applications.ResNet50V2())
      "InceptionV3", (fun () -> Applications.InceptionV3())
      "InceptionResNetV2", (fun () -> Applications.InceptionResNetV2())
      "Xception", (fun () -> Applications.Xception())
      "MobileNet", (fun () -> Applications.MobileNet())
      "MobileNetV2", (fun () -> Applications.MobileNetV2())
      "DenseNet121", (fun () -> Applications.DenseNet121())
      "DenseNet169", (fun () -> Applications.DenseNet169())
      "DenseNet201", (fun () -> Applications.DenseNet201())
      "EfficientNetB0", (fun () -> Applications.EfficientNetB0())
      "NASNetMobile", (fun () -> Applications.NASNetMobile())
      "NASNetLarge", (fun () -> Applications.NASNetLarge())
      "AlexNet", (fun () -> Applications.AlexNet())
      "NiN", (fun () -> Applications.NiN())
      "GoogLeNet", (fun () -> Applications.GoogLeNet())
      "SE-ResNet-50", (fun () -> Applications.SEResNet50()) ]
printfn "\n%-18s %-22s %7s %14s %14s %14s" "network" "model name" "layers" "total" "trainable" "non-trainable"
for name, build in networks do
    let m = build ()
    printfn "%-18s %-22s %7d %14s %14s %14s" name m.Name m.Operations.Length (count m.ParameterCount)
        (count m.TrainableParameterCount) (count m.NonTrainableParameterCount)

// Feature extraction: no top, global average pooling.
let features = Applications.ResNet50(includeTop = false, pooling = "avg", inputShape = Shape(160, 160, 3))
printfn "\nResNet50 without its top on 160x160 images: %O -> %O features" features.InputShapes.[0] features.OutputShapes.[0]
try Applications.ResNet50(weights = "imagenet") |> ignore
with :? NotSupportedException as e -> printfn "weights=\"imagenet\": %s" e.Message

// 3. Build the small ones and run one forward pass on a random batch.
torch.manual_seed 0L |> ignore
let run (model: Model) (batch: int64) =
    use built = BuiltNetwork.Build(model)
    use x = torch.rand(model.InputShapes.[0].WithBatch(batch))
    use y = built.forward x
    use sums = y.sum(1L)
    printfn "%s: input %A -> output %A (declared %O); rows sum to %.3f" model.Name x.shape y.shape model.OutputShapes.[0]
        (sums.mean().item<float32>())

run lenet 4L
let small = Applications.MobileNetV2(inputShape = Shape(32, 32, 3), alpha = 0.35, classes = 10)
printfn "\nMobileNetV2 (alpha 0.35, 32x32, 10 classes): Total params: %s" (count small.ParameterCount)
run small 2L
