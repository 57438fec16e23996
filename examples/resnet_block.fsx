// A functional ResNet: residual blocks whose shortcut is added back (Keras's functional API, as F# functions).
// After one build (`dotnet build`), run:  dotnet fsi examples/resnet_block.fsx
#load "../dsl/Functional.fsx"

open Functional.FSharp
open type Functional.FSharp.Layers

/// Two 3×3 convolutions and the shortcut added before the last ReLU; a 1×1 projection when the shape changes.
let residual filters strides (x: Functional.Models.SymbolicTensor) =
    let y =
        x
        --> conv2d (filters, 3, strides = strides, padding = "same", activation = "relu")
        --> conv2d (filters, 3, padding = "same")
    let shortcut =
        if strides = 1 && x.Shape.[2] = filters then x
        else x --> conv2d (filters, 1, strides = strides)
    Graph.merge (add ()) [ y; shortcut ] --> activation "relu"

let inputs = Graph.input [ 32; 32; 3 ]
let features =
    inputs
    --> conv2d (16, 3, padding = "same", activation = "relu")
    |> residual 16 1
    |> residual 32 2
    |> residual 64 2
let outputs = features --> globalAveragePooling2d () --> dense (10, activation = "softmax")
let model = Graph.named "small_resnet" [ inputs ] [ outputs ]

printf "%s" (Model.summary model)

// The config round-trips, and the built graph runs.
let reloaded = Model.fromJson (Model.toJson model)
printfn "JSON config reloads as an equal model: %b" (reloaded.Equals model)
let built = Graph.build model
let probabilities = built.forward (TorchSharp.torch.randn(2L, 32L, 32L, 3L))
printfn "Forward pass: %A, rows sum to %.3f" probabilities.shape (probabilities.sum(1L).mean().item<float32>())
