// An Inception block: parallel 1×1, 3×3, 5×5 and pooling branches concatenated along the channels.
// After one build (`dotnet build`), run:  dotnet fsi examples/inception_block.fsx
#load "../dsl/Functional.fsx"

open Functional.FSharp
open type Functional.FSharp.Layers

let inception (f1, f3r, f3, f5r, f5, fp) (x: Functional.Models.SymbolicTensor) =
    let branch1 = x --> conv2d (f1, 1, padding = "same", activation = "relu")
    let branch3 = x --> conv2d (f3r, 1, padding = "same", activation = "relu") --> conv2d (f3, 3, padding = "same", activation = "relu")
    let branch5 = x --> conv2d (f5r, 1, padding = "same", activation = "relu") --> conv2d (f5, 5, padding = "same", activation = "relu")
    let pooled = x --> maxPooling2d (3, strides = 1, padding = "same") --> conv2d (fp, 1, padding = "same", activation = "relu")
    Graph.merge (concatenate ()) [ branch1; branch3; branch5; pooled ]

// GoogLeNet's block 3a on a 28×28×192 input: 64 + 128 + 32 + 32 = 256 output channels.
let inputs = Graph.input [ 28; 28; 192 ]
let model = Graph.named "inception_3a" [ inputs ] [ inception (64, 96, 128, 16, 32, 32) inputs ]

printf "%s" (Model.summary model)

let built = Graph.build model
let y = built.forward (TorchSharp.torch.randn(1L, 28L, 28L, 192L))
printfn "Forward pass: output %A (channels: 64 + 128 + 32 + 32 = %d)" y.shape (64 + 128 + 32 + 32)
