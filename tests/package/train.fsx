// The F# Interactive consumer of the package check (tests/PackageTests.fs): run with `dotnet fsi train.fsx DATA_DIR`
// outside the repository after the check put the feed and version in place of the two markers below.
#i "nuget: FUNCTIONAL_FEED"
#r "nuget: Functional.FSharp, FUNCTIONAL_VERSION"

open Functional.Data
open Functional.Torch.Data
open Functional.FSharp
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open type Functional.FSharp.Layers

// Functional's loader first: it finds libtorch in the NuGet folder and, on Debian 12, loads a patched copy of TorchSharp's
// glue from its own cache. (A script that calls TorchSharp.torch before any Functional API gets TorchSharp's own loader.)
Functional.Torch.Native.LibTorch.EnsureLoaded()

let digits = DigitSet.Load(fsi.CommandLineArgs.[1])
let struct (train, test) = digits.Split(2000, 1)
let model =
    sequential {
        input (28, 28, 1)
        flatten ()
        dense (64, activation = "relu")
        dense (10, activation = "softmax")
    }
printf "%s" (Model.summary model)
TorchSharp.torch.manual_seed 1L |> ignore
let net = Model.build model
let compiled = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
let x = DigitTensors.Images train
let y = DigitTensors.Labels train
compiled.Fit(x, y, batchSize = 32, epochs = 3, verbose = Verbose 2) |> ignore
let xTest = DigitTensors.Images test
let yTest = DigitTensors.Labels test
let accuracy = (compiled.Evaluate(xTest, yTest, verbose = Verbose 0)).["accuracy"]
printfn "held-out accuracy: %.4f on %d digits" accuracy test.Count
printfn "glue library: %s" (Functional.Torch.Native.LibTorch.GlueLibraryPath)
