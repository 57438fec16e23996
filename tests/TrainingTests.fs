/// compile / fit / evaluate / predict: overfitting, determinism, memory, regularization, weights, validation, UX.
module Functional.Tests.TrainingTests

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
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Plotting
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests

/// A small classifier: 4 features → 3 classes.
let mlp () = Sequential(Input(4), Dense(16, activation = "relu"), Dense(3, activation = "softmax"))

/// Seeded toy data: 3 classes separable by the sign pattern of the first features.
let toyData (n: int) (seed: int) =
    torch.manual_seed (int64 seed) |> ignore
    let x = torch.randn(int64 n, 4L)
    let y = (x.select(1L, 0L).gt((0.0).ToScalar()).to_type(torch.ScalarType.Int64) + x.select(1L, 1L).gt((0.5).ToScalar()).to_type(torch.ScalarType.Int64))
    x, y

let quiet = Verbose 0

let liveTensors () = torch.Tensor.TotalCount

/// The network's weights as host copies, in its order.
let weightsOf (net: BuiltNetwork) =
    net.Weights |> Seq.map (fun w -> w.Name, w.Parameter.detach().cpu().clone()) |> List.ofSeq

let sameWeights (a: (string * torch.Tensor) list) (b: (string * torch.Tensor) list) =
    List.forall2 (fun (n1, (t1: torch.Tensor)) (n2, t2) -> n1 = n2 && same t1 t2) a b

[<Tests>]
let tests =
    testSequenced <| testList "Training" [
        test "a small model overfits a small batch: the loss goes to ~0 and accuracy to 1" {
            torchReady 4
            let x, y = toyData 16 4
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(learningRate = 0.02), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let history = model.Fit(x, y, batchSize = 16, epochs = 300, verbose = quiet)
            let losses = history.["loss"]
            Expect.isLessThan losses.[losses.Count - 1] 0.02 "final loss ~0"
            Expect.isGreaterThan losses.[0] (10.0 * losses.[losses.Count - 1]) "it fell"
            Expect.equal history.["accuracy"].[history.Epochs.Count - 1] 1.0 "all 16 right"
        }

        test "the same seed gives the same weights and the same loss curve on CPU (shuffle and dropout included)" {
            let runOnce () =
                torchReady 5
                let x, y = toyData 64 5
                torch.manual_seed 99L |> ignore
                use net = BuiltNetwork.Build(Sequential(Input(4), Dense(16, activation = "relu"), Dropout(0.3), Dense(3, activation = "softmax")))
                let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
                let h = model.Fit(x, y, batchSize = 8, epochs = 3, verbose = quiet)
                List.ofSeq h.["loss"], weightsOf net
            let l1, w1 = runOnce ()
            let l2, w2 = runOnce ()
            Expect.equal l1 l2 "identical loss curves"
            Expect.isTrue (sameWeights w1 w2) "identical weights"
        }

        test "the live native tensor count is unchanged across many fit steps" {
            torchReady 6
            let x, y = toyData 64 6
            use net = BuiltNetwork.Build(Sequential(Input(4), Dense(8, activation = "relu", kernelRegularizer = L2(0.01)), Dropout(0.2), Dense(3, activation = "softmax")))
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            model.Fit(x, y, batchSize = 8, epochs = 1, verbose = quiet, validationSplit = 0.25) |> ignore
            GC.Collect(); GC.WaitForPendingFinalizers()
            let before = liveTensors ()
            // The counter really counts: one more tensor is one more, and disposing it takes it back.
            let probe = torch.zeros(1L)
            Expect.equal (liveTensors ()) (before + 1L) "the counter sees a new tensor"
            probe.Dispose()
            Expect.equal (liveTensors ()) before "and its disposal"
            model.Fit(x, y, batchSize = 8, epochs = 10, verbose = quiet, validationSplit = 0.25) |> ignore   // 60 training steps
            model.Evaluate(x, y, verbose = quiet) |> ignore
            GC.Collect(); GC.WaitForPendingFinalizers()
            let after = liveTensors ()
            Expect.equal after before (sprintf "live tensors before %d, after %d" before after)
        }

        test "evaluate agrees with predict: its accuracy is the share of arg-max hits; its loss is the mean loss" {
            torchReady 7
            let x, y = toyData 50 7
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            model.Fit(x, y, batchSize = 10, epochs = 5, verbose = quiet) |> ignore
            let result = model.Evaluate(x, y, batchSize = 7, verbose = quiet)   // uneven last batch
            use p = model.Predict(x, batchSize = 13)
            let acc = float (p.argmax(1L).eq(y).to_type(torch.ScalarType.Float32).mean().item<float32>())
            close 1e-6 result.["accuracy"] acc "accuracy"
            let loss = scalar ((SparseCategoricalCrossentropy()).Compute(y, p))
            close 1e-5 result.["loss"] loss "loss"
        }

        test "regularization penalties are part of the loss; constraints hold after every update" {
            torchReady 8
            let x, y = toyData 32 8
            let decl = Sequential(Input(4), Dense(3, activation = "softmax", kernelRegularizer = L2(0.1), kernelConstraint = NonNeg()))
            use net = BuiltNetwork.Build(decl)
            let model = net.Compile(SGD(learningRate = 0.1), SparseCategoricalCrossentropy())
            model.Fit(x, y, batchSize = 8, epochs = 3, verbose = quiet) |> ignore
            let kernel = net.Weights |> Seq.find (fun w -> w.Name = "dense/kernel")
            Expect.isTrue (kernel.Parameter.ge((0.0).ToScalar()).all().item<bool>()) "NonNeg kept after the updates"
            let result = model.Evaluate(x, y, batchSize = 32, verbose = quiet)
            use p = model.Predict(x)
            let data = scalar ((SparseCategoricalCrossentropy()).Compute(y, p))
            let penalty = 0.1 * float (kernel.Parameter.square().sum().item<float32>())
            close 1e-5 result.["loss"] (data + penalty) "loss = data loss + 0.1·Σw²"
        }

        test "Dropout is active in fit and off in predict" {
            torchReady 9
            let x, y = toyData 16 9
            use net = BuiltNetwork.Build(Sequential(Input(4), Dense(32, activation = "relu"), Dropout(0.5), Dense(3, activation = "softmax")))
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            model.Fit(x, y, batchSize = 16, epochs = 1, verbose = quiet) |> ignore
            use p1 = model.Predict(x)
            use p2 = model.Predict(x)
            Expect.isTrue (same p1 p2) "inference is deterministic"
            net.train()
            use t1 = net.forward(x)
            use t2 = net.forward(x)
            net.eval()
            Expect.isFalse (same t1 t2) "training mode drops units"
        }

        test "BatchNormalization updates its moving statistics in fit, uses them in predict, and they are saved" {
            torchReady 16
            let x, y = toyData 32 16
            let x = x * 3.0 + 2.0
            use net = BuiltNetwork.Build(Sequential(Input(4), BatchNormalization(), Dense(3, activation = "softmax")))
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            let movingMean () = (net.Weights |> Seq.find (fun w -> w.Name = "batch_normalization/moving_mean")).Parameter.detach().clone()
            let before = movingMean ()
            model.Fit(x, y, batchSize = 8, epochs = 2, verbose = quiet) |> ignore
            let after = movingMean ()
            Expect.isFalse (same before after) "the moving mean moved during fit"
            use p1 = model.Predict(x)
            Expect.isTrue (same (movingMean ()) after) "predict leaves the statistics alone"
            use p2 = model.Predict(x)
            Expect.isTrue (same p1 p2) "inference uses the moving statistics"
            let file = Path.Combine(Path.GetTempPath(), "functional-bn-" + Guid.NewGuid().ToString "N" + ".safetensors")
            try
                net.SaveWeights file
                let names = (Functional.Torch.Formats.SafeTensors.Read file).Tensors |> Seq.map (fun t -> t.Name) |> Set.ofSeq
                Expect.isTrue (names.Contains "batch_normalization/moving_variance") "moving statistics saved"
            finally
                File.Delete file
        }

        test "sample weights and class weights weigh the loss as Keras does (sum of weighted losses over the batch size)" {
            torchReady 10
            let x, y = toyData 20 10
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(), SparseCategoricalCrossentropy())
            let w = torch.linspace(0.0, 2.0, 20L)
            let weighted = model.Evaluate(x, y, batchSize = 20, verbose = quiet, sampleWeight = w).["loss"]
            use p = model.Predict(x)
            let perSample = (SparseCategoricalCrossentropy(reduction = Reduction.Parse "none")).Compute(y, p)
            close 1e-5 weighted (float ((perSample * w).sum().item<float32>()) / 20.0) "weighted loss"
            // class_weight {0: 2, 1: 0.5} equals the corresponding per-sample weights.
            let cw = dict [ 0, 2.0; 1, 0.5 ] |> Collections.Generic.Dictionary
            let sw = CompiledModel.ClassWeights(y, cw)
            let expected = y |> fun t -> t.to_type(torch.ScalarType.Float64).data<float>().ToArray() |> Array.map (fun c -> match int c with 0 -> 2.0 | 1 -> 0.5 | _ -> 1.0)
            closeAll 1e-7 (values sw) (List.ofArray expected) "class weights per sample"
            throwsWith<ArgumentException> [ "classWeight"; "sampleWeight" ] (fun () ->
                model.Fit(x, y, epochs = 1, verbose = quiet, classWeight = cw, sampleWeight = w) |> ignore)
        }

        test "validation_split holds out the last samples: the last val_loss equals evaluating them after training" {
            torchReady 11
            let x, y = toyData 40 11
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let h = model.Fit(x, y, batchSize = 8, epochs = 2, verbose = quiet, validationSplit = 0.25)
            Expect.containsAll h.Values.Keys [ "loss"; "accuracy"; "val_loss"; "val_accuracy" ] "history keys"
            let held = model.Evaluate(x.narrow(0L, 30L, 10L), y.narrow(0L, 30L, 10L), verbose = quiet)
            close 1e-6 h.["val_loss"].[1] held.["loss"] "val_loss"
            close 1e-6 h.["val_accuracy"].[1] held.["accuracy"] "val_accuracy"
            // validation_data given explicitly works the same.
            let h2 = model.Fit(x.narrow(0L, 0L, 30L), y.narrow(0L, 0L, 30L), epochs = 1, verbose = quiet,
                               validationData = ValidationData(x.narrow(0L, 30L, 10L), y.narrow(0L, 30L, 10L)))
            Expect.equal h2.["val_loss"].Count 1 "one validation per epoch"
        }

        test "initialEpoch starts the epoch count there; fit with bad data or before compile fails clearly" {
            torchReady 12
            let x, y = toyData 12 12
            use net = BuiltNetwork.Build(mlp ())
            throwsWith<InvalidOperationException> [ "Compile" ] (fun () -> net.Fit(x, y) |> ignore)
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            let h = model.Fit(x, y, epochs = 5, initialEpoch = 3, verbose = quiet)
            Expect.equal (List.ofSeq h.Epochs) [ 3; 4 ] "epochs 3 and 4"
            throwsWith<ArgumentException> [ "Data cardinality is ambiguous"; "12"; "11" ] (fun () ->
                model.Fit(x, y.narrow(0L, 0L, 11L), verbose = quiet) |> ignore)
            throwsWith<ArgumentException> [ "expects input of shape (None, 4)" ] (fun () ->
                model.Fit(torch.zeros(12L, 5L), y, verbose = quiet) |> ignore)
            throwsWith<ArgumentException> [ "validationSplit"; "1.5" ] (fun () -> model.Fit(x, y, validationSplit = 1.5) |> ignore)
        }

        test "one-hot targets with categorical_crossentropy and 'accuracy' resolve to categorical accuracy" {
            torchReady 13
            let x, y = toyData 24 13
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(learningRate = 0.01), CategoricalCrossentropy(), [| "accuracy"; "mse" |])
            let h = model.Fit(x, Functional.Torch.Data.Categorical.ToCategorical(y, Nullable 3), batchSize = 8, epochs = 2, verbose = quiet)
            Expect.containsAll h.Values.Keys [ "loss"; "accuracy"; "mse" ] "keys"
            let auto = model.Metrics |> Seq.head :?> AutoAccuracy
            Expect.equal (auto.Resolved.GetType()) typeof<CategoricalAccuracy> "resolved"
        }

        test "the progress display: 'Epoch i/n' and one line per epoch with steps, time and metrics (verbose 2)" {
            torchReady 14
            let x, y = toyData 20 14
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            use out = new StringWriter()
            model.Fit(x, y, batchSize = 8, epochs = 2, callbacks = [ ProgbarLogger(2, out) :> Callback ], validationSplit = 0.2) |> ignore
            let lines = out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Expect.equal lines.Length 4 (sprintf "two lines per epoch:\n%s" (out.ToString()))
            Expect.equal lines.[0] "Epoch 1/2" "header"
            Expect.stringStarts lines.[1] "2/2 - " "steps"
            for part in [ "s/step"; " - accuracy: "; " - loss: "; " - val_accuracy: "; " - val_loss: " ] do
                Expect.stringContains lines.[1] part part
            // The bar (verbose 1) ends each epoch with a full bar.
            use bar = new StringWriter()
            model.Fit(x, y, batchSize = 8, epochs = 1, callbacks = [ ProgbarLogger(1, bar) :> Callback ]) |> ignore
            Expect.stringContains (bar.ToString()) "3/3 ━━━━━━━━━━━━━━━━━━━━ " "full bar"
        }

        test "a built model casts float64, int64, bool and uint8 inputs to float32 as Keras's Input does; null names the input" {
            torchReady 16
            use _scope = torch.NewDisposeScope()
            // 0/1 data: every dtype below holds it exactly, so each must give the float32 tensor's result bit for bit.
            let x32 = torch.randint(0L, 2L, [| 6L; 4L; 4L; 1L |]).to_type(torch.ScalarType.Float32)
            let model = Sequential(Input(4, 4, 1), Conv2D(3, 3, padding = "same", activation = "relu"), Flatten(), Dense(3, activation = "softmax"))
            use net = BuiltNetwork.Build(model)
            let expected = net.forward(x32).detach()
            for dtype in [ torch.ScalarType.Float64; torch.ScalarType.Int64; torch.ScalarType.Bool; torch.ScalarType.Byte
                           torch.ScalarType.Int32; torch.ScalarType.Float16 ] do
                let x = x32.to_type(dtype)
                Expect.isTrue (same (net.forward(x).detach()) expected) (sprintf "forward of %A" dtype)
                Expect.isTrue (same (net.Predict(x, batchSize = 4)) expected) (sprintf "predict of %A" dtype)
            // float64 data that is not exactly float32: the same as casting it first.
            let x64 = torch.randn([| 6L; 4L; 4L; 1L |], dtype = torch.ScalarType.Float64)
            Expect.isTrue (same (net.forward(x64).detach()) (net.forward(x64.to_type(torch.ScalarType.Float32)).detach())) "float64 → float32"
            // compile / evaluate / fit take them too.
            let labels = torch.randint(0L, 3L, [| 6L |])
            let compiled = net.Compile(SGD(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let evaluate (x: torch.Tensor) = compiled.Evaluate(x, labels, verbose = quiet) |> Seq.map (fun kv -> kv.Key, kv.Value) |> Seq.sort |> List.ofSeq
            let a = evaluate x32
            let b = evaluate (x32.to_type(torch.ScalarType.Float64))
            let c = evaluate (x32.to_type(torch.ScalarType.Byte))
            Expect.equal b a "evaluate float64"
            Expect.equal c a "evaluate uint8"
            compiled.Fit(x32.to_type(torch.ScalarType.Int64), labels, epochs = 1, verbose = quiet) |> ignore
            // A graph: each input is cast on its own.
            let i1, i2 = Graph.Input(Shape 3, "left"), Graph.Input(Shape 3, "right")
            use graph = BuiltNetwork.Build(Model([ i1; i2 ], [ Add().Call(i1, i2) ]))
            let l, r = torch.randint(0L, 5L, [| 2L; 3L |]), torch.randint(0L, 5L, [| 2L; 3L |])
            let sum = graph.Forward([ l.to_type(torch.ScalarType.Float64); r ]).[0]
            Expect.equal sum.dtype torch.ScalarType.Float32 "float32 out"
            Expect.isTrue (same sum ((l + r).to_type(torch.ScalarType.Float32))) "left + right"
            // Null and uncastable inputs are named.
            let none = Unchecked.defaultof<torch.Tensor>
            throwsWith<ArgumentNullException> [ "Model 'sequential' received null for input"; "(None, 4, 4, 1)" ] (fun () -> net.forward none |> ignore)
            throwsWith<ArgumentNullException> [ "received null for input" ] (fun () -> net.Predict(none) |> ignore)
            throwsWith<ArgumentNullException> [ "received null for input" ] (fun () -> compiled.Evaluate(none, labels, verbose = quiet) |> ignore)
            throwsWith<ArgumentNullException> [ "received null for input" ] (fun () -> compiled.Fit(none, labels, verbose = quiet) |> ignore)
            throwsWith<ArgumentNullException> [ "received null for input 1 ('right')" ] (fun () -> graph.Forward([ l; none ]) |> ignore)
            throwsWith<ArgumentException> [ "expects input as float32"; "ComplexFloat32" ] (fun () ->
                net.forward(x32.to_type(torch.ScalarType.ComplexFloat32)) |> ignore)
        }

        test "the training-curve picture renders as PNG (and HTML with SVG panels)" {
            torchReady 15
            let x, y = toyData 20 15
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let h = model.Fit(x, y, batchSize = 10, epochs = 3, verbose = quiet, validationSplit = 0.2)
            let dir = Path.Combine(Path.GetTempPath(), "functional-curves-" + Guid.NewGuid().ToString "N")
            try
                let png = Path.Combine(dir, "curves.png")
                h.SavePlot png
                let bytes = File.ReadAllBytes png
                Expect.equal bytes.[0..7] [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |] "PNG signature"
                // A real picture, whatever fonts the machine has: the IHDR size, and more than a blank image compresses to.
                let be (o: int) = (int bytes.[o] <<< 24) ||| (int bytes.[o + 1] <<< 16) ||| (int bytes.[o + 2] <<< 8) ||| int bytes.[o + 3]
                Expect.isGreaterThanOrEqual (be 16) 400 "width"
                Expect.isGreaterThanOrEqual (be 20) 300 "height"
                Expect.isGreaterThan bytes.Length 4000 "drawn content, not a blank canvas"
                let html = Path.Combine(dir, "curves.html")
                h.SavePlot html
                let text = File.ReadAllText html
                Expect.stringContains text "<svg" "SVG panels"
                Expect.stringContains text "val_accuracy" "table"
                Expect.equal (List.ofSeq (TrainingCurves.PanelNames h)) [ "loss"; "accuracy" ] "panels"
                throwsWith<ArgumentException> [ ".png, .svg or .html" ] (fun () -> h.SavePlot(Path.Combine(dir, "x.gif")))
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]
