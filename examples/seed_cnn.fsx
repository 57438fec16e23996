// Seed 000's CNN in F# Interactive: declare, summarise (no libtorch), then build and run one forward pass.
// After one build (`dotnet build`), run:  dotnet fsi examples/seed_cnn.fsx
#load "../dsl/Functional.fsx"

open Functional.FSharp
open type Functional.FSharp.Layers

// Keras:  model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, (3, 3), padding="same", activation="relu"), ...])
let model =
    sequential {
        input (28, 28, 1)
        conv2d (32, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        conv2d (64, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        conv2d (128, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        flatten ()
        dense 10
        activation "softmax"
    }

printf "%s" (Model.summary model)

// The same model as a pipeline, for those who prefer it.
let piped =
    Model.input [ 28; 28; 1 ]
    |> Model.add (conv2d (32, 3, padding = "same", activation = "relu"))
    |> Model.add (maxPooling2d 2)
    |> Model.add (conv2d (64, 3, padding = "same", activation = "relu"))
    |> Model.add (maxPooling2d 2)
    |> Model.add (conv2d (128, 3, padding = "same", activation = "relu"))
    |> Model.add (maxPooling2d 2)
    |> Model.add (flatten ())
    |> Model.add (dense 10)
    |> Model.add (activation "softmax")
printfn "Pipeline and computation expression declare equal models: %b" (piped = model)

let built = Model.build model
let batch = TorchSharp.torch.rand(4L, 28L, 28L, 1L)
let probabilities = built.forward batch
printfn "Forward pass: input %A -> output %A; each row sums to %.3f"
    batch.shape probabilities.shape (probabilities.sum(1L).mean().item<float32>())
