/// Calls as the unit of training mode, concurrency and disposal, runtime input checks, and per-model seeded randomness
/// (issue 12 items 2, 3, 8 and 12).
module Functional.Tests.ConcurrencyTests

open System
open System.IO
open System.Threading
open System.Threading.Tasks
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
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

type G = Functional.Models.Graph

/// Dense → BatchNormalization → Dropout → Dense: two layers that behave differently in training.
let bnDropoutModel () =
    Sequential(Input(4), Dense(8), BatchNormalization(), Dropout(0.5), Dense(3, activation = "softmax"))

/// BatchNormalization's moving statistics (non-trainable weights), as host copies.
let movingStatistics (net: BuiltNetwork) =
    let stats = weightsOf net |> List.filter (fun (n, _) -> n.Contains "moving_")
    Expect.equal stats.Length 2 "moving_mean and moving_variance"
    stats

/// Runs `work i` on `n` threads started together; returns their results in order (exceptions propagate).
let onThreads n (work: int -> 'a) =
    use start = new Barrier(n)
    let tasks = Array.init n (fun i -> Task.Factory.StartNew((fun () -> start.SignalAndWait(); work i), TaskCreationOptions.LongRunning))
    Task.WaitAll(tasks |> Array.map (fun t -> t :> Task))
    tasks |> Array.map (fun t -> t.Result)

[<Tests>]
let tests =
    testSequenced <| testList "Calls, concurrency and seeds" [
        test "after a training step, Predict and Evaluate from 8 threads equal sequential ones and never move BatchNormalization's statistics" {
            torchReady 21
            let x, y = toyData 40 21
            use net = BuiltNetwork.Build(bnDropoutModel ())
            let model = net.Compile(SGD(0.1), SparseCategoricalCrossentropy(), [| "accuracy" |])
            model.TrainOnBatch(x, y) |> ignore
            Expect.isFalse net.training "a training step leaves the module's mode alone"
            let buffers = movingStatistics net
            let weights = weightsOf net
            let expected = model.Predict(x, batchSize = 7)
            let expectedEval = model.Evaluate(x, y, batchSize = 7, verbose = quiet)
            let results =
                onThreads 8 (fun i ->
                    [ for k in 1 .. 25 ->
                        if (i + k) % 5 = 0 then Choice2Of2(model.Evaluate(x, y, batchSize = 7, verbose = quiet))
                        else Choice1Of2(net.Predict(x, 7)) ])
            for r in Seq.concat results do
                match r with
                | Choice1Of2 p -> Expect.isTrue (same p expected) "a concurrent Predict equals the sequential one (inference: no Dropout, moving statistics)"
                | Choice2Of2 e ->
                    Expect.equal e.["loss"] expectedEval.["loss"] "a concurrent Evaluate's loss equals the sequential one"
                    Expect.equal e.["accuracy"] expectedEval.["accuracy"] "and its accuracy"
            for (n, b), (_, a) in List.zip buffers (movingStatistics net) do
                Expect.isTrue (same a b) (sprintf "%s unchanged by predict and evaluate" n)
            Expect.isTrue (sameWeights weights (weightsOf net)) "weights unchanged"
        }

        test "Predict on other threads during Fit sees the weights between two steps, never a mixture" {
            torchReady 22
            let x, y = toyData 64 22
            use net = BuiltNetwork.Build(Sequential(Input(4), Dense(16, activation = "relu"), Dense(3, activation = "softmax")))
            let model = net.Compile(Adam(learningRate = 0.05), SparseCategoricalCrossentropy(), seed = 1L)
            let probe = x.narrow(0L, 0L, 8L).clone()
            // Every state a concurrent Predict may observe: the start, and after each step (recorded on the fit thread).
            let states = Collections.Concurrent.ConcurrentQueue<torch.Tensor>()
            states.Enqueue(net.Predict(probe))
            let recorder =
                { new Callback() with
                    override _.OnTrainBatchEnd(_, _) = states.Enqueue(net.Predict(probe)) }
            let stop = ref false
            let seen = Collections.Concurrent.ConcurrentQueue<torch.Tensor>()
            let readers =
                [| for _ in 1 .. 3 ->
                    Task.Factory.StartNew((fun () ->
                        while not stop.Value do seen.Enqueue(net.Predict(probe))), TaskCreationOptions.LongRunning) |]
            model.Fit(x, y, batchSize = 8, epochs = 3, verbose = quiet, callbacks = [ recorder ]) |> ignore
            stop.Value <- true
            Task.WaitAll(readers)
            let valid = states.ToArray()
            Expect.equal valid.Length 25 "the start and 24 steps"
            Expect.isGreaterThan seen.Count 0 "the readers ran"
            for p in seen do
                Expect.isTrue (valid |> Array.exists (same p)) "each concurrent prediction is the model's output between two steps"
        }

        test "Dispose racing Predict on 4 threads: every call gives the right result or ObjectDisposedException, never a crash" {
            torchReady 23
            let x, _ = toyData 64 23
            let mutable raced = 0
            for round in 1 .. 6 do
                let net = BuiltNetwork.Build(bnDropoutModel ())
                let expected = net.Predict(x, 16)
                let outcomes =
                    onThreads 5 (fun i ->
                        if i = 4 then
                            Thread.Sleep(round * 3)
                            net.Dispose()
                            [ "disposed" ]
                        else
                            [ for _ in 1 .. 200 do
                                let r =
                                    try
                                        let p = net.Predict(x, 16)
                                        if same p expected then "right" else "wrong"
                                    with :? ObjectDisposedException -> "disposed"
                                yield r ])
                let all = Seq.concat outcomes |> Seq.distinct |> Set.ofSeq
                Expect.isFalse (all.Contains "wrong") "no call saw a half-disposed model"
                if all.Contains "right" && all.Contains "disposed" then raced <- raced + 1
                Expect.isTrue net.IsDisposed "disposed"
                throwsWith<ObjectDisposedException> [ "has been disposed" ] (fun () -> net.Predict(x) |> ignore)
                throwsWith<ObjectDisposedException> [ "has been disposed" ] (fun () -> net.Forward([ x ]) |> ignore)
                net.Dispose()   // a second Dispose is harmless
            Expect.isGreaterThan raced 0 "in some round Dispose came while the threads were predicting"
        }

        test "Dispose while Fit runs on another thread: the step in progress finishes, then Fit stops with ObjectDisposedException" {
            torchReady 30
            let x, y = toyData 256 30
            let net = BuiltNetwork.Build(bnDropoutModel ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), seed = 2L)
            use started = new ManualResetEventSlim(false)
            let signal = { new Callback() with override _.OnTrainBatchEnd(b, _) = if b = 2 then started.Set() }
            let fit = Task.Factory.StartNew((fun () -> model.Fit(x, y, batchSize = 4, epochs = 50, verbose = quiet, callbacks = [ signal ])), TaskCreationOptions.LongRunning)
            Expect.isTrue (started.Wait(TimeSpan.FromSeconds 60.0)) "fit started"
            net.Dispose()
            let error =
                try
                    fit.Wait()
                    None
                with :? AggregateException as e -> Some(e.InnerException)
            match error with
            | Some(:? ObjectDisposedException as e) -> Expect.stringContains e.Message "has been disposed" "names the disposal"
            | other -> failtestf "expected ObjectDisposedException from Fit, got %A" other
        }

        test "Dispose or a training step from inside an evaluate callback on the same network is a clear error, not a deadlock" {
            torchReady 31
            let x, y = toyData 16 31
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            let attempts = Collections.Generic.List<exn>()
            let inside =
                { new Callback() with
                    override _.OnTestBatchEnd(_, _) =
                        for act in [ (fun () -> net.Dispose()); (fun () -> model.TrainOnBatch(x, y) |> ignore) ] do
                            try act () with e -> attempts.Add e }
            model.Evaluate(x, y, batchSize = 8, verbose = quiet, callbacks = [ inside ]) |> ignore
            Expect.equal attempts.Count 4 "both refused in each of the 2 batches"
            for e in attempts do
                Expect.isTrue (e :? InvalidOperationException) (sprintf "InvalidOperationException, got %s" (e.GetType().Name))
                Expect.stringContains e.Message "from inside" "says why"
            Expect.isFalse net.IsDisposed "still usable"
            Expect.equal (model.Predict(x).shape) [| 16L; 3L |] "and it predicts"
        }

        test "a two-input Predict with 3 and 5 rows is Keras's 'Data cardinality is ambiguous', naming the inputs and sizes" {
            torchReady 24
            let a, b = G.Input(Shape 4, "left"), G.Input(Shape 2, "right")
            use net = BuiltNetwork.Build(Model([ a; b ], [ Dense(1).Call(Concatenate().Call(a, b)) ]))
            throwsWith<ArgumentException> [ "Data cardinality is ambiguous"; "'left'"; ": 3"; "'right'"; ": 5" ] (fun () ->
                net.Predict([ torch.randn(3L, 4L); torch.randn(5L, 2L) ]) |> ignore)
            let model = net.Compile(SGD(), MeanSquaredError())
            throwsWith<ArgumentException> [ "Data cardinality is ambiguous"; "'left'"; ": 3"; "'right'"; ": 5" ] (fun () ->
                model.Evaluate([ torch.randn(3L, 4L); torch.randn(5L, 2L) ], [ torch.randn(3L, 1L) ], verbose = quiet) |> ignore)
            throwsWith<ArgumentException> [ "takes 2 input(s)"; "received 1" ] (fun () -> net.Predict([ torch.randn(3L, 4L) ]) |> ignore)
        }

        test "0 samples: Predict gives empty outputs of the right shape; Evaluate, Fit and TrainOnBatch refuse, and nothing moves" {
            torchReady 25
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let empty = torch.zeros(0L, 4L)
            let none = torch.zeros(0L, torch.ScalarType.Int64)
            let p = model.Predict(empty)
            Expect.equal p.shape [| 0L; 3L |] "Keras: an empty array of the output shape"
            let before = weightsOf net
            throwsWith<ArgumentException> [ "non-empty"; "0 samples" ] (fun () -> model.Evaluate(empty, none, verbose = quiet) |> ignore)
            throwsWith<ArgumentException> [ "non-empty"; "0 samples" ] (fun () -> model.TrainOnBatch(empty, none) |> ignore)
            throwsWith<ArgumentException> [ "non-empty"; "0 samples" ] (fun () -> model.Fit(empty, none, verbose = quiet) |> ignore)
            Expect.isTrue (sameWeights before (weightsOf net)) "no weight moved"
            Expect.equal model.Optimizer.Iterations 0L "no optimizer step"
            throwsWith<ArgumentException> [ "expects input of shape (None, 4)"; "scalar" ] (fun () -> model.Predict(torch.tensor(1.0f)) |> ignore)
            throwsWith<ArgumentException> [ "expects input of shape (None, 4)"; "scalar" ] (fun () -> net.Predict(torch.tensor(1.0f)) |> ignore)
        }

        test "validationSplit = NaN or ±infinity is refused, naming the argument" {
            torchReady 26
            let x, y = toyData 16 26
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            for v in [ nan; infinity; -infinity ] do
                throwsWith<ArgumentException> [ "validationSplit"; "[0, 1)" ] (fun () -> model.Fit(x, y, validationSplit = v, verbose = quiet) |> ignore)
            Expect.equal model.Optimizer.Iterations 0L "nothing trained"
        }

        test "two models trained at once on two threads equal the same runs one after another (shuffle and Dropout)" {
            torchReady 27
            let x, y = toyData 96 27
            let build (k: int) =
                torch.manual_seed (int64 (100 + k)) |> ignore
                let net = BuiltNetwork.Build(Sequential(Input(4), Dense(16, activation = "relu"), Dropout(0.4), Dense(3, activation = "softmax")))
                net, net.Compile(Adam(), SparseCategoricalCrossentropy(), seed = int64 (7 + k))
            let train (net: BuiltNetwork, model: CompiledModel) =
                model.Fit(x, y, batchSize = 8, epochs = 3, shuffle = true, verbose = quiet) |> ignore
                let w = weightsOf net
                net.Dispose()
                w
            let sequential = [ for k in 0 .. 1 -> train (build k) ]
            let pairs = [| for k in 0 .. 1 -> build k |]
            // Another thread drawing from torch's global generator meanwhile must not matter either.
            use noise = new CancellationTokenSource()
            let drawer = Task.Run(fun () -> while not noise.IsCancellationRequested do torch.rand(64L).Dispose())
            let concurrent = onThreads 2 (fun k -> train pairs.[k])
            noise.Cancel()
            drawer.Wait()
            for k in 0 .. 1 do
                Expect.isTrue (sameWeights sequential.[k] concurrent.[k]) (sprintf "model %d: concurrent = sequential, bit for bit" k)
            Expect.isFalse (sameWeights sequential.[0] sequential.[1]) "the two runs differ (different seeds), so the check has teeth"
        }

        test "resuming from a ModelCheckpoint at epoch 2 of 4 (shuffle, unseeded and seeded Dropout, Adam) ends with the unbroken run's weights, bit for bit" {
            torchReady 28
            let x, y = toyData 80 28
            let dir = Path.Combine(Path.GetTempPath(), "functional-resume-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let build (initSeed: int64) (seed: int64) =
                    torch.manual_seed initSeed |> ignore
                    let net =
                        BuiltNetwork.Build(
                            Sequential(Input(4), Dense(16, activation = "relu"), Dropout(0.3), Dense(8, activation = "relu"),
                                       Dropout(0.2, seed = int initSeed), Dense(3, activation = "softmax")))
                    net, net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), seed = seed)
                let unbrokenNet, unbroken = build 5L 11L
                unbroken.Fit(x, y, batchSize = 8, epochs = 4, verbose = quiet) |> ignore
                let expected = weightsOf unbrokenNet
                unbrokenNet.Dispose()
                // The same run, saving each epoch; then a different model (other weights, other seed) resumes from epoch 2.
                let firstNet, first = build 5L 11L
                let path = Path.Combine(dir, "ckpt-{epoch}.safetensors")
                first.Fit(x, y, batchSize = 8, epochs = 2, verbose = quiet, callbacks = [ ModelCheckpoint(path) :> Callback ]) |> ignore
                firstNet.Dispose()
                let resumedNet, resumed = build 77L 999L
                let epoch = resumed.LoadCheckpoint(Path.Combine(dir, "ckpt-2.safetensors"))
                Expect.equal epoch 2 "two epochs done"
                resumed.Fit(x, y, batchSize = 8, epochs = 4, initialEpoch = epoch, verbose = quiet) |> ignore
                Expect.isTrue (sameWeights expected (weightsOf resumedNet)) "resumed = unbroken"
                // Without the generator state the run would differ: the same resume with the generator reseeded does.
                let otherNet, other = build 77L 999L
                other.LoadCheckpoint(Path.Combine(dir, "ckpt-2.safetensors")) |> ignore
                other.Reseed 12345L
                other.Fit(x, y, batchSize = 8, epochs = 4, initialEpoch = 2, verbose = quiet) |> ignore
                Expect.isFalse (sameWeights expected (weightsOf otherNet)) "a different generator state gives a different run"
                // The seeded Dropout's own generator is restored too: only the model's generator restored is not enough.
                let thirdNet, third = build 77L 999L
                third.LoadCheckpoint(Path.Combine(dir, "ckpt-2.safetensors")) |> ignore
                let struct (seededName, seededGenerator: torch.Generator) = thirdNet.LayerGenerators |> Seq.exactlyOne
                Expect.equal seededName "dropout_1/seed_generator" "the seeded Dropout's generator, by its Keras path"
                seededGenerator.manual_seed(4242L) |> ignore
                third.Fit(x, y, batchSize = 8, epochs = 4, initialEpoch = 2, verbose = quiet) |> ignore
                Expect.isFalse (sameWeights expected (weightsOf thirdNet)) "the seeded layer's generator state matters"
                thirdNet.Dispose()
                resumedNet.Dispose()
                otherNet.Dispose()
            finally
                Directory.Delete(dir, true)
        }

        test "a checkpoint whose generator state has the wrong shape is refused before anything changes" {
            torchReady 29
            let x, y = toyData 16 29
            let path = Path.Combine(Path.GetTempPath(), "functional-badrng-" + Guid.NewGuid().ToString("N") + ".safetensors")
            try
                use net = BuiltNetwork.Build(mlp ())
                let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), seed = 3L)
                model.Fit(x, y, verbose = quiet) |> ignore
                model.SaveCheckpoint(path, 1)
                use file = Functional.Torch.Formats.SafeTensors.ReadTensors(path)
                let tensors =
                    [ for t in file.Tensors ->
                        if t.Name = "random/generator" then struct (t.Name, torch.zeros(3L, dtype = torch.ScalarType.Byte))
                        else struct (t.Name, t.Value) ]
                let bad = path + ".bad"
                Functional.Torch.Formats.SafeTensors.WriteTensors(bad, tensors, file.Metadata)
                let before = weightsOf net
                throwsWith<InvalidDataException> [ "random/generator"; "shape" ] (fun () -> model.LoadCheckpoint bad |> ignore)
                Expect.isTrue (sameWeights before (weightsOf net)) "nothing applied"
                File.Delete bad
            finally
                File.Delete path
        }
    ]
