// Seed 000's CNN in F# Interactive: declare, summarise (no libtorch), then build and run one forward pass.
// After one build (`dotnet build`), run:  dotnet fsi examples/seed_cnn.fsx
#load "../dsl/Functional.fsx"

open Functional.FSharp
open Functional.Torch

let model =
    Model.input [ 28; 28; 1 ]
    |> Model.add (Layers.conv2d (32, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (64, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (128, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.flatten ())
    |> Model.add (Layers.dense 10)
    |> Model.add (Layers.activation "softmax")

printf "%s" (Model.summary model)

let built = Model.build model
let batch = TorchSharp.torch.rand(4L, 28L, 28L, 1L)
let probabilities = built.forward batch
printfn "Forward pass: input %A -> output %A; each row sums to %.3f"
    batch.shape probabilities.shape (probabilities.sum(1L).mean().item<float32>())
