/// Keras 3's LoRA on Dense and Conv1D/2D/3D (keras/src/layers/core/dense.py, convolutional/base_conv.py): parameter counts
/// as Keras's summary prints them, the forward pass against the merged kernel computed by hand, training that moves only
/// the adapter (and the bias), configs, and weight files.
module Functional.Tests.LoraTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests
open Functional.Tests.SavingTests

let private names (specs: seq<ParameterSpec>) = specs |> Seq.map (fun s -> s.Name) |> List.ofSeq

let private binding (net: BuiltNetwork) name = net.Weights |> Seq.find (fun w -> w.Name = name)

/// A weight's values in Keras's layout, row-major.
let private kerasValues (net: BuiltNetwork) name =
    use v = (binding net name).KerasView()
    v.contiguous().cpu().data<float32>().ToArray()

/// Writes Keras-layout values into a weight (through its Keras view).
let private setKeras (net: BuiltNetwork) name (values: float32[]) =
    use _ = torch.no_grad()
    use v = (binding net name).KerasView()
    use t = torch.tensor(values).reshape(v.shape)
    v.copy_(t) |> ignore

/// kernel + (a · b) · scale by hand, on Keras layouts flattened to (rows, out), (rows, rank) and (rank, out).
let mergedKernel (kernel: float32[]) (a: float32[]) (b: float32[]) (rank: int) (out: int) (scale: float) =
    Array.init kernel.Length (fun i ->
        let p, o = i / out, i % out
        let mutable delta = 0.0
        for j in 0 .. rank - 1 do delta <- delta + float a.[p * rank + j] * float b.[j * out + o]
        float32 (float kernel.[i] + scale * delta))

let private randomValues (rnd: Random) n = Array.init n (fun _ -> float32 (rnd.NextDouble() * 2.0 - 1.0))

/// One LoRA case: the layer with or without LoRA (same everything else), its input, rank, output width and scale.
type private Case = { Make: int option -> Layer; Input: Input; Rank: int; Out: int; Scale: float; Label: string }

let private cases : Case list =
    let r = Option.toNullable
    [ { Make = (fun k -> Dense(5, loraRank = r k, loraAlpha = Nullable 6.0, Name = "l") :> Layer); Input = Input(4); Rank = 3; Out = 5; Scale = 2.0
        Label = "Dense rank 3, alpha 6" }
      { Make = (fun k -> Dense(3, activation = "tanh", useBias = false, loraRank = r k, Name = "l") :> Layer); Input = Input(2, 4); Rank = 2; Out = 3
        Scale = 1.0; Label = "Dense on (2, 4), no bias, tanh, alpha = rank" }
      { Make = (fun k -> Conv1D(4, 3, padding = "causal", groups = 2, loraRank = r k, loraAlpha = Nullable 1.5, Name = "l") :> Layer); Input = Input(7, 6)
        Rank = 3; Out = 4; Scale = 0.5; Label = "Conv1D causal, groups 2" }
      { Make = (fun k -> Conv2D(6, 3, padding = "same", activation = "relu", loraRank = r k, loraAlpha = Nullable 1.0, Name = "l") :> Layer)
        Input = Input(5, 5, 3); Rank = 2; Out = 6; Scale = 0.5; Label = "Conv2D same, relu" }
      { Make = (fun k -> Conv2D(4, (2, 3), strides = 2, dataFormat = "channels_first", loraRank = r k, Name = "l") :> Layer); Input = Input(3, 6, 7)
        Rank = 2; Out = 4; Scale = 1.0; Label = "Conv2D channels_first, strides 2" }
      { Make = (fun k -> Conv3D(2, 2, loraRank = r k, loraAlpha = Nullable 3.0, Name = "l") :> Layer); Input = Input(3, 3, 3, 2); Rank = 1; Out = 2
        Scale = 3.0; Label = "Conv3D rank 1, alpha 3" } ]

[<Tests>]
let tests =
    testList "LoRA" [
        propertyWith pureConfig "Dense with loraRank r: in·units (frozen) + units + r·(in + units) trainable; Keras's weight order and shapes"
            (Arb.fromGen (Gen.zip3 (Gen.choose (1, 500)) (Gen.choose (1, 500)) (Gen.zip (Gen.choose (1, 16)) (Gen.elements [ true; false ]))))
            (fun (i, u, (r, b)) ->
                let d = Dense(u, useBias = b, loraRank = Nullable r)
                let shape = Shape i
                let specs = d.Parameters shape |> List.ofSeq
                let bias = if b then int64 u else 0L
                d.ParameterCount shape = int64 i * int64 u + bias + int64 r * int64 (i + u)
                && d.TrainableParameterCount shape = bias + int64 r * int64 (i + u)
                && names specs = [ "kernel" ] @ (if b then [ "bias" ] else []) @ [ "lora_kernel_a"; "lora_kernel_b" ]
                && (specs |> List.map (fun s -> s.Trainable)) = [ false ] @ (if b then [ true ] else []) @ [ true; true ]
                && specs.[specs.Length - 2].Shape = Shape(i, r) && specs.[specs.Length - 1].Shape = Shape(r, u))

        test "Keras's counts: Dense(16) on 8 features with enable_lora(4), and Conv1D/2D/3D" {
            // dense.py: kernel (8, 16) becomes non-trainable; lora_kernel_a (8, 4) and lora_kernel_b (4, 16) are added —
            // Keras's test_enable_lora asserts 3 trainable weights (bias, a, b) and 1 non-trainable (kernel).
            let model = Sequential(Input(8), Dense(16).EnableLora(4))
            Expect.equal (model.ParameterCount, model.TrainableParameterCount, model.NonTrainableParameterCount) (240L, 112L, 128L) "128 + 16 + 32 + 64"
            let s = model.Summary()
            Expect.stringContains s " Total params: 240 (960.00 B)" "total"
            Expect.stringContains s " Trainable params: 112 (448.00 B)" "trainable"
            Expect.stringContains s " Non-trainable params: 128 (512.00 B)" "non-trainable"
            // base_conv.py: a = kernel.shape[:-1] + (r,), b = (r, filters).
            let count (layer: Layer) (input: Shape) = layer.ParameterCount input, layer.TrainableParameterCount input
            // kernel (3, 3, 5, 6) = 270 frozen, bias 6, a (3, 3, 5, 2) = 90, b (2, 6) = 12.
            Expect.equal (count (Conv2D(6, 3, loraRank = Nullable 2)) (Shape(8, 8, 5))) (378L, 108L) "Conv2D"
            // groups 2: kernel (3, 3, 4) = 36 frozen, bias 4, a (3, 3, 3) = 27, b (3, 4) = 12.
            Expect.equal (count (Conv1D(4, 3, groups = 2, loraRank = Nullable 3)) (Shape(10, 6))) (79L, 43L) "Conv1D groups 2"
            // kernel (2, 2, 2, 3, 2) = 48 frozen, bias 2, a (2, 2, 2, 3, 1) = 24, b (1, 2) = 2.
            Expect.equal (count (Conv3D(2, 2, loraRank = Nullable 1)) (Shape(4, 4, 4, 3))) (76L, 28L) "Conv3D"
            let specs = Conv2D(6, 3, kernelRegularizer = L2(0.1), loraRank = Nullable 2).Parameters(Shape(8, 8, 5)) |> List.ofSeq
            Expect.equal (names specs) [ "kernel"; "bias"; "lora_kernel_a"; "lora_kernel_b" ] "Keras's order"
            Expect.equal specs.[2].Shape (Shape(3, 3, 5, 2)) "a"
            Expect.equal specs.[3].Shape (Shape(2, 6)) "b"
            Expect.equal specs.[2].Initializer (HeUniform() :> Initializer) "a: he_uniform"
            Expect.equal specs.[3].Initializer (Zeros() :> Initializer) "b: zeros"
            Expect.equal specs.[2].Regularizer (L2(0.1) :> Regularizer) "a carries the kernel regularizer"
            Expect.equal specs.[3].Regularizer specs.[2].Regularizer "b too"
            let frozen = Sequential(Input(8), Dense(16, loraRank = Nullable 4, Trainable = false))
            Expect.equal frozen.TrainableParameterCount 0L "a frozen LoRA layer trains nothing"
        }

        test "EnableLora returns a new record; Keras's errors: rank, kernel constraint, enabling twice" {
            let plain = Dense(8)
            let lora = plain.EnableLora(4, 8.0)
            Expect.equal (plain.LoraRank, lora.LoraRank, lora.LoraAlpha) (Nullable(), Nullable 4, Nullable 8.0) "a copy with LoRA"
            Expect.equal lora.Units 8 "everything else kept"
            Expect.equal (Conv2D(4, 3).EnableLora(2)) (Conv2D(4, 3, loraRank = Nullable 2)) "Conv2D.EnableLora keeps the type"
            Expect.equal (Dense(8).EnableLora(4)) (Dense(8, loraRank = Nullable 4)) "alpha null means the rank"
            throwsWith<ArgumentException> [ "Dense"; "loraRank=0" ] (fun () -> Dense(8, loraRank = Nullable 0) |> ignore)
            throwsWith<ArgumentException> [ "Conv2D"; "loraRank=-1" ] (fun () -> Conv2D(4, 3).EnableLora(-1) |> ignore)
            throwsWith<ArgumentException> [ "Dense"; "loraAlpha=NaN" ] (fun () -> Dense(8, loraRank = Nullable 2, loraAlpha = Nullable nan) |> ignore)
            throwsWith<ArgumentException> [ "Dense"; "LoRA is incompatible with kernel constraints"; "NonNeg" ] (fun () ->
                Dense(8, kernelConstraint = NonNeg(), loraRank = Nullable 2) |> ignore)
            throwsWith<ArgumentException> [ "Conv1D"; "LoRA is incompatible with kernel constraints" ] (fun () ->
                Conv1D(4, 3, kernelConstraint = MaxNorm(2.0)).EnableLora(2) |> ignore)
            throwsWith<InvalidOperationException> [ "Dense 'd'"; "already enabled"; "loraRank=4" ] (fun () ->
                Dense(8, Name = "d").EnableLora(4).EnableLora(2) |> ignore)
            Dense(8, biasConstraint = NonNeg(), loraRank = Nullable 2) |> ignore   // a bias constraint is fine
        }

        testSequenced <| test "forward = the layer with kernel + (a · b) · alpha / rank merged by hand (Dense, Conv1D/2D/3D)" {
            for c in cases do
                torchReady 51
                use lora = BuiltNetwork.Build(Sequential(c.Input, c.Make(Some c.Rank)))
                use plain = BuiltNetwork.Build(Sequential(c.Input, c.Make None))
                use x = torch.randn(c.Input.Shape.WithBatch(3L))
                let kernel = kerasValues lora "l/kernel"
                let a = kerasValues lora "l/lora_kernel_a"
                Expect.isTrue (kerasValues lora "l/lora_kernel_b" |> Array.forall ((=) 0.0f)) (c.Label + ": b starts at zeros")
                setKeras plain "l/kernel" kernel
                let hasBias = lora.Weights |> Seq.exists (fun w -> w.Name = "l/bias")
                let rnd = Random 7
                if hasBias then
                    let bias = randomValues rnd c.Out
                    setKeras lora "l/bias" bias
                    setKeras plain "l/bias" bias
                use fresh = lora.Predict x
                use unchanged = plain.Predict x
                Expect.isTrue (fresh.allclose(unchanged, 1e-5, 1e-6)) (c.Label + ": a fresh adapter leaves the output unchanged")
                let b = randomValues rnd (c.Rank * c.Out)
                setKeras lora "l/lora_kernel_b" b
                setKeras plain "l/kernel" (mergedKernel kernel a b c.Rank c.Out c.Scale)
                use y = lora.Predict x
                use expected = plain.Predict x
                Expect.isFalse (y.allclose(unchanged, 1e-3, 1e-3)) (c.Label + ": the adapter changes the output")
                Expect.isTrue (y.allclose(expected, 1e-4, 1e-5)) (c.Label + ": equals the merged kernel")
        }

        testSequenced <| test "training moves only bias and the LoRA weights; the kernel regularizer applies to a and b, not the frozen kernel" {
            torchReady 52
            let model =
                Sequential(Input(6, 6, 2), Conv2D(3, 3, loraRank = Nullable 2, Name = "c"), Flatten(),
                           Dense(4, kernelRegularizer = L2(0.5), loraRank = Nullable 2, Name = "d"))
            use net = BuiltNetwork.Build(model)
            Expect.equal [ for w in net.Weights -> w.Name, w.Trainable ]
                [ "c/kernel", false; "c/bias", true; "c/lora_kernel_a", true; "c/lora_kernel_b", true
                  "d/kernel", false; "d/bias", true; "d/lora_kernel_a", true; "d/lora_kernel_b", true ] "bindings"
            Expect.equal (net.TrainableParameters |> Seq.sumBy (fun p -> p.numel())) model.TrainableParameterCount "trainable numel = counted"
            Expect.equal (net.parameters() |> Seq.sumBy (fun p -> p.numel())) model.ParameterCount "Σ numel = counted"
            use reg = net.RegularizationLoss()
            let sumSq name = kerasValues net name |> Array.sumBy (fun v -> float v * float v)
            Expect.floatClose Accuracy.medium (float (reg.item<float32>())) (0.5 * (sumSq "d/lora_kernel_a" + sumSq "d/lora_kernel_b")) "L2 on a and b only"
            let before = weightsOf net
            let x = torch.randn(16L, 6L, 6L, 2L)
            let y = torch.randn(16L, 4L)
            let compiled = net.Compile(SGD(learningRate = 0.1), MeanSquaredError())
            compiled.Fit(x, y, batchSize = 8, epochs = 3, verbose = quiet) |> ignore
            let after = weightsOf net
            for (name, t0), (_, t1) in List.zip before after do
                let moved = not (same t0 t1)
                Expect.equal moved (not (name.EndsWith "/kernel")) (sprintf "%s %s" name (if moved then "moved" else "stayed"))
        }

        test "configs: lora_rank and lora_alpha as Keras writes them (only when LoRA is on), and they round-trip" {
            let config (l: Layer) = (LayerConfig.Serialize l).["config"].AsObject()
            for plain in [ Dense(4) :> Layer; Conv2D(4, 3) ] do
                Expect.isFalse ((config plain).ContainsKey "lora_rank") "no lora_rank on a plain layer, as Keras"
                Expect.isFalse ((config plain).ContainsKey "lora_alpha") "nor lora_alpha"
            let lora = Dense(4, loraRank = Nullable 2)
            Expect.equal ((config lora).["lora_rank"].GetValue<int>()) 2 "lora_rank"
            Expect.isFalse ((config lora).ContainsKey "lora_alpha") "alpha left to default (the rank)"
            Expect.equal ((config (Conv1D(4, 3, loraRank = Nullable 2, loraAlpha = Nullable 8.0))).["lora_alpha"].GetValue<double>()) 8.0 "lora_alpha"
            for layer in [ lora :> Layer; Dense(4).EnableLora(3, 6.0); Conv2D(4, 3).EnableLora(2); Conv3D(2, 2, loraRank = Nullable 1, loraAlpha = Nullable 0.5) ] do
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson layer)) layer (layer.ClassName + " round-trips")
            // As Keras 3 writes a LoRA Dense (lora_alpha resolved to the rank).
            let keras =
                """{"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32",
                    "units": 4, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers",
                    "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
                    "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                    "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null,
                    "quantization_config": null, "lora_rank": 2, "lora_alpha": 2}, "registered_name": null}"""
            let read = LayerConfig.FromJson keras :?> Dense
            Expect.equal (read.LoraRank, read.LoraAlpha, read.Name) (Nullable 2, Nullable 2.0, "dense") "read"
            Expect.equal (read.ParameterCount(Shape 3)) (12L + 4L + 6L + 8L) "with its adapter"
            let bad = keras.Replace("\"lora_rank\": 2", "\"lora_rank\": 0")
            throwsWith<ModelConfigException> [ "$.config.lora_rank"; "loraRank=0" ] (fun () -> LayerConfig.FromJson bad |> ignore)
        }

        testSequenced <| test "weight files: the adapter is saved under Keras's names; a base model's file loads into its LoRA twin" {
            withTemp (fun dir ->
                torchReady 53
                let base' () = Sequential(Input(5), Dense(6, activation = "relu", Name = "h"), Dense(3, Name = "out"))
                let lora () = Sequential(Input(5), Dense(6, activation = "relu", Name = "h").EnableLora(2), Dense(3, Name = "out"))
                use x = torch.randn(4L, 5L)
                use trained = BuiltNetwork.Build(base' ())
                let basePath = Path.Combine(dir, "base.safetensors")
                trained.SaveWeights basePath
                use tuned = BuiltNetwork.Build(lora ())
                let freshA = kerasValues tuned "h/lora_kernel_a"
                tuned.LoadWeights basePath
                Expect.equal (kerasValues tuned "h/kernel") (kerasValues trained "h/kernel") "kernel loaded"
                Expect.equal (kerasValues tuned "h/lora_kernel_a") freshA "a keeps its fresh he_uniform values"
                use yBase = trained.Predict x
                use yTuned = tuned.Predict x
                Expect.isTrue (yTuned.allclose(yBase, 1e-6, 1e-6)) "b = 0: the LoRA twin computes what the base model does"
                // Train the adapter a little, save, and reload into another LoRA twin: the file holds every weight.
                let y = torch.randn(4L, 3L)
                tuned.Compile(SGD(learningRate = 0.1), MeanSquaredError()).Fit(x, y, epochs = 2, verbose = quiet) |> ignore
                let loraPath = Path.Combine(dir, "lora.safetensors")
                tuned.SaveWeights loraPath
                let stored = SafeTensors.Read(loraPath).Tensors |> Seq.map (fun t -> t.Name, List.ofArray t.Shape) |> Map.ofSeq
                Expect.equal stored.["h/lora_kernel_a"] [ 5L; 2L ] "a in Keras's (in, rank)"
                Expect.equal stored.["h/lora_kernel_b"] [ 2L; 6L ] "b in Keras's (rank, units)"
                torchReady 54
                use again = BuiltNetwork.Build(lora ())
                again.LoadWeights loraPath
                use y1 = tuned.Predict x
                use y2 = again.Predict x
                Expect.isTrue (same y1 y2) "identical after reloading"
                // A file with one adapter weight but not the other is rejected, naming the missing one.
                let partial = Path.Combine(dir, "partial.safetensors")
                let file = SafeTensors.Read loraPath
                SafeTensors.Write(partial, file.Tensors |> Seq.filter (fun t -> t.Name <> "h/lora_kernel_b") |> List.ofSeq, file.Metadata)
                throwsWith<InvalidDataException> [ "lacks 1 weight"; "'h/lora_kernel_b'" ] (fun () -> again.LoadWeights partial)
                // A LoRA file does not load into the plain model (its extra weights are named).
                throwsWith<InvalidDataException> [ "does not have"; "'h/lora_kernel_a'" ] (fun () -> trained.LoadWeights loraPath))
        }
    ]
