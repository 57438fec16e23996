/// FitAsync / EvaluateAsync / PredictAsync (cancellation between batches, progress, worker thread) and the fit log through
/// Microsoft.Extensions.Logging (issue 16 item 4).
module Functional.Tests.AsyncTests

open System
open System.Collections.Generic
open System.IO
open System.Threading
open System.Threading.Tasks
open Expecto
open Microsoft.Extensions.Logging
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Data
open Functional.Torch.Data
open Functional.Layers
open Functional.Torch.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

/// One message a ListLogger received: its level, event, text and structured properties.
type LogEntry =
    { Level: LogLevel
      Event: EventId
      Text: string
      Properties: Map<string, obj> }

/// A tiny ILogger that keeps every message at or above `minimum`, with its properties (thread-safe: fit logs from a worker).
type ListLogger(minimum: LogLevel) =
    let entries = Collections.Concurrent.ConcurrentQueue<LogEntry>()
    member _.Entries = List.ofSeq entries
    interface ILogger with
        member _.BeginScope<'TState>(_state: 'TState) : IDisposable = null
        member _.IsEnabled(level) = level >= minimum && level <> LogLevel.None
        member _.Log<'TState>(level: LogLevel, event: EventId, state: 'TState, error: exn, formatter: Func<'TState, exn, string>) =
            if level >= minimum then
                let properties =
                    match box state with
                    | :? IEnumerable<KeyValuePair<string, obj>> as pairs -> pairs |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
                    | _ -> Map.empty
                entries.Enqueue { Level = level; Event = event; Text = formatter.Invoke(state, error); Properties = properties }

/// An IProgress that records reports synchronously, on the reporting thread, with that thread's id.
type Recorder<'T>() =
    let items = Collections.Concurrent.ConcurrentQueue<'T * int>()
    member _.Items = items |> Seq.map fst |> List.ofSeq
    member _.Threads = items |> Seq.map snd |> Set.ofSeq
    interface IProgress<'T> with
        member _.Report value = items.Enqueue((value, Thread.CurrentThread.ManagedThreadId))

/// The first 320 MNIST digits of the repository's data/ (a real data set, small enough for a unit test).
let digits =
    lazy
        (let set = DigitSet.Load(DigitSet.FindRepositoryData "mnist")
         use images = DigitTensors.Images set
         use labels = DigitTensors.Labels set
         images.narrow(0L, 0L, 320L).clone(), labels.narrow(0L, 0L, 320L).clone())

/// A digit classifier with Dropout (so the model's generator matters), built and compiled from fixed seeds.
let digitModel (seed: int64) =
    torch.manual_seed seed |> ignore
    let net = BuiltNetwork.Build(Sequential(Input(28, 28, 1), Flatten(), Dense(32, activation = "relu"), Dropout(0.2), Dense(10, activation = "softmax")))
    net, net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), [ Metrics.Get "accuracy" ], seed = 5L)

/// Awaits the task as `await` would and expects OperationCanceledException; the task ends Canceled.
let expectCancelled (task: Task) =
    let outcome =
        try
            task.GetAwaiter().GetResult()
            None
        with e -> Some e
    match outcome with
    | Some(:? OperationCanceledException) -> ()
    | other -> failtestf "expected OperationCanceledException, got %A" other
    Expect.isTrue task.IsCanceled "the task ends Canceled"

/// Counts each hook; records the thread the hooks ran on.
type Counting() =
    inherit Callback()
    member val TrainBegin = 0 with get, set
    member val TrainEnd = 0 with get, set
    member val EpochEnds = ResizeArray<int>()
    member val Batches = 0 with get, set
    member val Threads = Collections.Concurrent.ConcurrentBag<int>()
    override this.OnTrainBegin _ =
        this.TrainBegin <- this.TrainBegin + 1
        this.Threads.Add Thread.CurrentThread.ManagedThreadId
    override this.OnTrainEnd _ = this.TrainEnd <- this.TrainEnd + 1
    override this.OnEpochEnd(e, _) = this.EpochEnds.Add e
    override this.OnTrainBatchEnd(_, _) =
        this.Batches <- this.Batches + 1
        this.Threads.Add Thread.CurrentThread.ManagedThreadId

/// Runs `action` with Console.Out and Console.Error captured (the suite runs one test at a time); returns what was written.
let captureConsole (action: unit -> unit) =
    let out, err = Console.Out, Console.Error
    use capturedOut = new StringWriter()
    use capturedErr = new StringWriter()
    Console.SetOut capturedOut
    Console.SetError capturedErr
    try
        action ()
    finally
        Console.SetOut out
        Console.SetError err
    capturedOut.ToString() + capturedErr.ToString()

[<Tests>]
let tests =
    testSequenced <| testList "Async fit, evaluate and predict; logging" [
        test "FitAsync cancelled by its token after 11 batches leaves the weights of a Fit stopped after the same 11 batches, bit for bit; Fit runs again afterwards" {
            torchReady 41
            let x, y = digits.Force()
            // Reference: a synchronous fit stopped by a callback at the end of batch 11 (epoch 2, step 3 of 8).
            let refNet, reference = digitModel 7L
            let seen = ref 0
            let stopper =
                LambdaCallback(onTrainBatchEnd = Action<int, IDictionary<string, float>>(fun _ _ ->
                    seen.Value <- seen.Value + 1
                    if seen.Value = 11 then reference.StopTraining <- true))
            reference.Fit(x, y, batchSize = 40, epochs = 3, verbose = quiet, callbacks = [ stopper :> Callback ]) |> ignore
            let expected = weightsOf refNet
            Expect.equal reference.Optimizer.Iterations 11L "the reference took 11 steps"
            // The same run, cancelled through the token by a callback after batch 11.
            let net, model = digitModel 7L
            use cts = new CancellationTokenSource()
            let taken = ref 0
            let canceller =
                LambdaCallback(onTrainBatchEnd = Action<int, IDictionary<string, float>>(fun _ _ ->
                    taken.Value <- taken.Value + 1
                    if taken.Value = 11 then cts.Cancel()))
            let counting = Counting()
            let callerThread = Thread.CurrentThread.ManagedThreadId
            let fit = model.FitAsync(x, y, batchSize = 40, epochs = 3, verbose = quiet, callbacks = [ canceller :> Callback; counting :> Callback ], cancellationToken = cts.Token)
            expectCancelled fit
            Expect.equal model.Optimizer.Iterations 11L "11 whole steps, no 12th"
            Expect.isTrue (sameWeights expected (weightsOf net)) "the cancelled run's weights = the stopped run's, bit for bit"
            Expect.equal (counting.TrainBegin, counting.TrainEnd) (1, 1) "callbacks got their begin and their end"
            Expect.equal (List.ofSeq counting.EpochEnds) [ 0 ] "only the finished epoch ended; the cancelled one did not"
            Expect.equal (List.ofSeq model.History.Epochs) [ 0 ] "History keeps the finished epoch"
            Expect.isFalse (counting.Threads |> Seq.contains callerThread) "training ran off the caller's thread"
            // Fit works again, synchronously and asynchronously, on the same model.
            let h = model.Fit(x, y, batchSize = 40, epochs = 1, verbose = quiet)
            Expect.equal (List.ofSeq h.Epochs) [ 0 ] "a new fit after the cancelled one"
            let h2 = model.FitAsync(x, y, batchSize = 40, epochs = 2, initialEpoch = 1, verbose = quiet).Result
            Expect.equal (List.ofSeq h2.Epochs) [ 1 ] "and FitAsync resumes with initialEpoch"
            Expect.equal model.Optimizer.Iterations (11L + 8L + 8L) "every step of the later fits ran"
            Expect.isTrue (Double.IsFinite h2.["loss"].[0]) "with a finite loss"
            refNet.Dispose()
            net.Dispose()
        }

        test "cancelling during validation stops before the next validation batch; the finished epoch's training is kept" {
            torchReady 42
            let x, y = toyData 64 42
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(0.1), SparseCategoricalCrossentropy(), seed = 3L)
            use cts = new CancellationTokenSource()
            let counting = Counting()
            let progress =
                { new IProgress<TrainingProgress> with
                    member _.Report p = if p.Stage = ProgressStage.TrainBatch && p.Step = p.Steps then cts.Cancel() }
            let fit =
                model.FitAsync(x, y, batchSize = 8, epochs = 2, validationSplit = 0.25, verbose = quiet, callbacks = [ counting :> Callback ],
                               progress = progress, cancellationToken = cts.Token)
            expectCancelled fit
            Expect.equal model.Optimizer.Iterations 6L "the 6 training steps of epoch 1 ran (48 samples / 8)"
            Expect.equal (List.ofSeq counting.EpochEnds) [] "the epoch whose validation was cancelled did not end"
            Expect.equal counting.TrainEnd 1 "but training did"
        }

        test "a token cancelled before FitAsync, EvaluateAsync or PredictAsync gives a canceled task that touches nothing" {
            torchReady 43
            let x, y = toyData 32 43
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), seed = 4L)
            let before = weightsOf net
            use cts = new CancellationTokenSource()
            cts.Cancel()
            let counting = Counting()
            let reports = Recorder<TrainingProgress>()
            let fit = model.FitAsync(x, y, epochs = 3, verbose = quiet, callbacks = [ counting :> Callback ], progress = reports, cancellationToken = cts.Token)
            Expect.isTrue fit.IsCanceled "canceled at once, before any work was scheduled"
            expectCancelled fit
            expectCancelled (model.EvaluateAsync(x, y, verbose = quiet, progress = reports, cancellationToken = cts.Token))
            expectCancelled (model.PredictAsync(x, progress = reports, cancellationToken = cts.Token))
            expectCancelled (net.PredictAsync(x, cancellationToken = cts.Token))
            Expect.isTrue (sameWeights before (weightsOf net)) "no weight moved"
            Expect.equal model.Optimizer.Iterations 0L "no step"
            Expect.equal (counting.TrainBegin + counting.Batches) 0 "no callback ran"
            Expect.isEmpty reports.Items "nothing reported"
            Expect.isNull model.History "no fit started"
        }

        test "bad arguments of the async methods are refused at once, naming them, before a task starts" {
            torchReady 44
            let x, y = toyData 16 44
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            throwsWith<ArgumentException> [ "epochs"; "-1" ] (fun () -> model.FitAsync(x, y, epochs = -1) |> ignore)
            throwsWith<ArgumentException> [ "batchSize"; "0" ] (fun () -> model.FitAsync(x, y, batchSize = 0) |> ignore)
            throwsWith<ArgumentException> [ "validationSplit"; "[0, 1)" ] (fun () -> model.FitAsync(x, y, validationSplit = 1.5) |> ignore)
            throwsWith<ArgumentException> [ "batchSize"; "-3" ] (fun () -> model.EvaluateAsync(x, y, batchSize = -3) |> ignore)
            throwsWith<ArgumentException> [ "batchSize"; "0" ] (fun () -> net.PredictAsync(x, batchSize = 0) |> ignore)
            throwsWith<ArgumentNullException> [ "x" ] (fun () -> model.PredictAsync(null :> torch.Tensor) |> ignore)
            // Tensor errors come through the task, as from the synchronous call.
            let wrong = torch.zeros(4L, 5L)
            let failed = net.PredictAsync(wrong)
            let error = try failed.Wait(); None with :? AggregateException as e -> Some e.InnerException
            match error with
            | Some(:? ArgumentException as e) -> Expect.stringContains e.Message "expects input of shape (None, 4)" "names the expected shape"
            | other -> failtestf "expected ArgumentException, got %A" other
            Expect.equal model.Optimizer.Iterations 0L "nothing trained"
        }

        test "PredictAsync equals Predict and EvaluateAsync equals Evaluate, bit for bit, on real digits" {
            torchReady 45
            let x, y = digits.Force()
            let net, model = digitModel 11L
            model.Fit(x, y, batchSize = 64, epochs = 1, verbose = quiet) |> ignore
            let expected = model.Predict(x, batchSize = 50)
            let expectedEval = model.Evaluate(x, y, batchSize = 50, verbose = quiet)
            Expect.isTrue (same (model.PredictAsync(x, batchSize = 50).Result) expected) "CompiledModel.PredictAsync = Predict"
            Expect.isTrue (same (net.PredictAsync(x, batchSize = 50).Result) expected) "BuiltNetwork.PredictAsync = Predict"
            Expect.isTrue (same (model.PredictAsync([ x ], batchSize = 50).Result.[0]) expected) "the list form too"
            let evaluated = model.EvaluateAsync(x, y, batchSize = 50, verbose = quiet).Result
            Expect.equal evaluated.["loss"] expectedEval.["loss"] "EvaluateAsync loss = Evaluate loss"
            Expect.equal evaluated.["accuracy"] expectedEval.["accuracy"] "and accuracy"
            let viaNetwork = net.EvaluateAsync(x, y, batchSize = 50, verbose = quiet).Result
            Expect.equal viaNetwork.["loss"] expectedEval.["loss"] "BuiltNetwork.EvaluateAsync = Evaluate"
            // Eight predictions at once from the thread pool, as a service would make them.
            let many = Array.init 8 (fun _ -> model.PredictAsync(x, batchSize = 50))
            Task.WaitAll(many |> Array.map (fun t -> t :> Task))
            for t in many do Expect.isTrue (same t.Result expected) "a concurrent PredictAsync = Predict"
            net.Dispose()
        }

        test "PredictAsync cancelled after its first batch releases the partial outputs and changes nothing" {
            torchReady 46
            let x, _ = toyData 64 46
            use net = BuiltNetwork.Build(mlp ())
            let before = weightsOf net
            use cts = new CancellationTokenSource()
            let reports = Recorder<TrainingProgress>()
            let cancelling =
                { new IProgress<TrainingProgress> with
                    member _.Report p =
                        (reports :> IProgress<TrainingProgress>).Report p
                        cts.Cancel() }
            GC.Collect()
            GC.WaitForPendingFinalizers()
            let live = liveTensors ()
            expectCancelled (net.PredictAsync(x, batchSize = 8, progress = cancelling, cancellationToken = cts.Token))
            GC.Collect()
            GC.WaitForPendingFinalizers()
            Expect.equal (reports.Items |> List.map (fun p -> p.Stage, p.Step, p.Steps)) [ ProgressStage.PredictBatch, 1, 8 ] "one batch of 8 ran"
            Expect.equal (liveTensors ()) live "the partial outputs were released"
            Expect.isTrue (sameWeights before (weightsOf net)) "nothing changed"
        }

        test "progress reports arrive in order, on the worker thread, with the right epochs, steps and logs" {
            torchReady 47
            let x, y = toyData 48 47
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [ Metrics.Get "accuracy" ], seed = 6L)
            let reports = Recorder<TrainingProgress>()
            let caller = Thread.CurrentThread.ManagedThreadId
            // 36 training samples in batches of 8: 5 steps (the last of 4); 12 held out for validation.
            let history = model.FitAsync(x, y, batchSize = 8, epochs = 3, initialEpoch = 1, validationSplit = 0.25, verbose = quiet, progress = reports).Result
            let expected =
                [ for epoch in 1 .. 2 do
                    for step in 1 .. 5 -> ProgressStage.TrainBatch, epoch, step
                    yield ProgressStage.Epoch, epoch, 5 ]
            let items = reports.Items
            Expect.equal (items |> List.map (fun p -> p.Stage, p.Epoch, p.Step)) expected "every batch, then the epoch, in order"
            for p in items do
                Expect.equal (p.Epochs, p.Steps) (3, 5) "the totals"
                Expect.isTrue (p.Logs.ContainsKey "loss" && p.Logs.ContainsKey "accuracy") "running loss and accuracy"
            let epochs = items |> List.filter (fun p -> p.Stage = ProgressStage.Epoch)
            Expect.equal (epochs |> List.map (fun p -> p.Logs.["val_loss"])) (List.ofSeq history.["val_loss"]) "epoch reports carry the History's validation results"
            Expect.equal (epochs |> List.map (fun p -> p.Logs.["loss"])) (List.ofSeq history.["loss"]) "and its training loss"
            Expect.equal (items |> List.filter (fun p -> p.Stage = ProgressStage.TrainBatch && p.Step = 5) |> List.map (fun p -> p.Logs.["loss"]))
                (List.ofSeq history.["loss"]) "the last batch's running loss is the epoch's loss"
            Expect.isFalse (reports.Threads.Contains caller) "reported from the worker thread"
            // Evaluate and predict report each batch.
            let evalReports = Recorder<TrainingProgress>()
            let result = model.EvaluateAsync(x, y, batchSize = 10, verbose = quiet, progress = evalReports).Result
            Expect.equal (evalReports.Items |> List.map (fun p -> p.Stage, p.Step, p.Steps)) [ for s in 1 .. 5 -> ProgressStage.TestBatch, s, 5 ] "5 evaluation batches"
            Expect.equal (List.last evalReports.Items).Logs.["loss"] result.["loss"] "the last report holds the result"
            let predictReports = Recorder<TrainingProgress>()
            model.PredictAsync(x, batchSize = 16, progress = predictReports).Result |> ignore
            Expect.equal (predictReports.Items |> List.map (fun p -> p.Stage, p.Step, p.Steps, p.Logs.Count)) [ for s in 1 .. 3 -> ProgressStage.PredictBatch, s, 3, 0 ] "3 prediction batches, no logs"
            Expect.equal (List.last predictReports.Items).Fraction 1.0 "done"
        }

        test "FitAsync returns before training starts and does not wait for it" {
            torchReady 48
            let x, y = toyData 32 48
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(0.1), SparseCategoricalCrossentropy())
            use gate = new ManualResetEventSlim(false)
            let opened = ref false
            // Training waits at its first hook for the caller to say that FitAsync has returned; a FitAsync that trained on
            // the caller's thread would get here first and find the gate shut (and time out).
            let waiter =
                LambdaCallback(onTrainBegin = Action<IDictionary<string, float>>(fun _ -> opened.Value <- gate.Wait(TimeSpan.FromSeconds 30.0)))
            let fit = model.FitAsync(x, y, epochs = 2, verbose = quiet, callbacks = [ waiter :> Callback ])
            Expect.isFalse fit.IsCompleted "FitAsync returned while training waits"
            gate.Set()
            fit.Wait()
            Expect.isTrue opened.Value "training started only after FitAsync had returned"
        }

        test "Reseed during a fit: from a callback the fit goes on (its shuffling keeps the old generator); from another thread it waits for the fit" {
            torchReady 61
            let x, y = digits.Force()
            let net, model = digitModel 61L
            use _ = net
            // From a callback, every batch: the fit's dataset still shuffles with the generator it started with.
            let reseeding = LambdaCallback(onTrainBatchEnd = Action<int, IDictionary<string, float>>(fun b _ -> model.Reseed(int64 b)))
            let history = model.Fit(x, y, batchSize = 64, epochs = 2, verbose = Verbose 0, callbacks = [ reseeding :> Callback ])
            Expect.equal history.Epochs.Count 2 "both epochs ran"
            Expect.isTrue (history.["loss"] |> Seq.forall Double.IsFinite) "finite losses"
            // From another thread while FitAsync runs (held at its first batch): Reseed returns only after the fit ended.
            use gate = new ManualResetEventSlim(false)
            use started = new ManualResetEventSlim(false)
            let ended = ref false
            let holding =
                LambdaCallback(
                    onTrainBatchBegin = Action<int, IDictionary<string, float>>(fun b _ -> if b = 0 then started.Set(); gate.Wait(TimeSpan.FromSeconds 30.0) |> ignore),
                    onTrainEnd = Action<IDictionary<string, float>>(fun _ -> Volatile.Write(&ended.contents, true)))
            let fit = model.FitAsync(x, y, batchSize = 64, epochs = 2, verbose = Verbose 0, callbacks = [ holding :> Callback ])
            Expect.isTrue (started.Wait(TimeSpan.FromSeconds 30.0)) "the fit reached its first batch"
            let reseed = Task.Run(fun () -> model.Reseed 7L; Volatile.Read(&ended.contents))
            Expect.isFalse (reseed.Wait(TimeSpan.FromMilliseconds 200.0)) "Reseed waits while the fit holds the model"
            gate.Set()
            Expect.isTrue reseed.Result "the fit had ended (OnTrainEnd ran) when Reseed returned"
            Expect.equal fit.Result.Epochs.Count 2 "the fit ran to its end with a valid generator"
        }

        test "the caller's ExecutionContext (AsyncLocal values such as logging scopes) reaches FitAsync's callbacks and PredictAsync's progress" {
            torchReady 52
            let x, y = toyData 16 52
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(0.1), SparseCategoricalCrossentropy())
            let ambient = AsyncLocal<string>()
            ambient.Value <- "request-42"
            let seenInFit = Collections.Concurrent.ConcurrentBag<string>()
            let probe = LambdaCallback(onTrainBatchEnd = Action<int, IDictionary<string, float>>(fun _ _ -> seenInFit.Add ambient.Value))
            model.FitAsync(x, y, batchSize = 8, verbose = quiet, callbacks = [ probe :> Callback ]).Wait()
            let seenInPredict = Collections.Concurrent.ConcurrentBag<string>()
            let progress = { new IProgress<TrainingProgress> with member _.Report _ = seenInPredict.Add ambient.Value }
            model.PredictAsync(x, batchSize = 8, progress = progress).Wait()
            Expect.equal (List.ofSeq seenInFit) [ "request-42"; "request-42" ] "both fit batches saw the caller's value"
            Expect.equal (List.ofSeq seenInPredict) [ "request-42"; "request-42" ] "both predict batches too"
        }

        test "grad mode is per thread: Fit and FitAsync train from inside the caller's no_grad, which stays on" {
            torchReady 49
            let x, y = toyData 32 49
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(0.1), SparseCategoricalCrossentropy())
            let before = weightsOf net
            let underNoGrad () =
                use _ = torch.no_grad()
                model.Fit(x, y, batchSize = 8, verbose = quiet) |> ignore
                model.FitAsync(x, y, batchSize = 8, verbose = quiet).Wait()
                Expect.isFalse (torch.is_grad_enabled ()) "the caller's no_grad is untouched"
            underNoGrad ()
            Expect.equal model.Optimizer.Iterations 8L "both fits stepped"
            Expect.isFalse (sameWeights before (weightsOf net)) "and the weights moved"
            Expect.isTrue (torch.is_grad_enabled ()) "grad mode restored after the block"
        }

        test "with a Logger, fit, evaluate and the built-in callbacks log structured messages to it and nothing goes to the console" {
            torchReady 50
            let x, y = digits.Force()
            let net, model = digitModel 13L
            let logger = ListLogger(LogLevel.Debug)
            model.Logger <- (logger :> ILogger)
            let fitted = ref Unchecked.defaultof<History>
            let console =
                captureConsole (fun () ->
                    let stopping = EarlyStopping(monitor = "loss", patience = 0, verbose = 1, minDelta = 10.0)
                    fitted.Value <- model.FitAsync(x, y, batchSize = 64, epochs = 3, verbose = 1, callbacks = [ stopping :> Callback ]).Result
                    model.Evaluate(x, y, batchSize = 64, verbose = 1) |> ignore
                    let lonely = EarlyStopping(monitor = "nothing", verbose = 1)
                    model.Fit(x, y, batchSize = 64, epochs = 1, verbose = 2, callbacks = [ lonely :> Callback ]) |> ignore)
            let history = fitted.Value
            Expect.equal console "" "the console got nothing"
            let entries = logger.Entries
            let named (id: EventId) = entries |> List.filter (fun e -> e.Event.Id = id.Id)
            let epochs = named LoggingCallback.Events.EpochEnd
            // EarlyStopping with minDelta 10 never sees an improvement after epoch 1, so it stops after epoch 2.
            Expect.equal (List.ofSeq history.Epochs) [ 0; 1 ] "early stopping after 2 epochs"
            Expect.equal (epochs |> List.take 2 |> List.map (fun e -> e.Properties.["Epoch"] :?> int)) [ 1; 2 ] "one Information message per epoch, counted from 1"
            for e in epochs do Expect.equal e.Level LogLevel.Information "epochs at Information"
            Expect.equal (epochs |> List.take 2 |> List.map (fun e -> e.Properties.["loss"] :?> float)) (List.ofSeq history.["loss"]) "the loss as a property, exact"
            Expect.stringContains (epochs.Head.Properties.["{OriginalFormat}"] :?> string) "loss: {loss}" "a template with named placeholders"
            Expect.stringContains epochs.Head.Text "Epoch 1/3" "readable text"
            Expect.stringContains epochs.Head.Text (sprintf "loss: %s" (history.["loss"].[0].ToString("F4", Globalization.CultureInfo.InvariantCulture))) "with Keras's numbers"
            let batches = named LoggingCallback.Events.BatchEnd
            Expect.equal (batches |> List.take 10 |> List.map (fun e -> e.Level, e.Properties.["Epoch"] :?> int, e.Properties.["Step"] :?> int))
                [ for epoch in 1 .. 2 do for step in 1 .. 5 -> LogLevel.Debug, epoch, step ] "batches at Debug"
            Expect.equal (named LoggingCallback.Events.TrainBegin).Length 2 "two fits began"
            Expect.equal (named LoggingCallback.Events.TrainEnd).Length 2 "and ended"
            let callbackMessages = named LoggingCallback.Events.Callback |> List.map (fun e -> e.Level, e.Text)
            Expect.contains callbackMessages (LogLevel.Information, "Epoch 2: early stopping") "EarlyStopping's message went to the logger"
            Expect.isTrue (callbackMessages |> List.exists (fun (l, t) -> l = LogLevel.Warning && t.Contains "metric nothing which is not available")) "its warning too, at Warning"
            let evaluation = named LoggingCallback.Events.Evaluation
            Expect.equal evaluation.Length 1 "evaluate's line"
            Expect.isTrue (evaluation.Head.Properties.ContainsKey "accuracy") "with its results as properties"
            net.Dispose()
        }

        test "a logger at Information gets no batch messages; verbose 0 silences the fit log; a cancelled fit logs its cancellation" {
            torchReady 51
            let x, y = toyData 32 51
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), seed = 8L)
            let info = ListLogger(LogLevel.Information)
            model.Logger <- (info :> ILogger)
            model.Fit(x, y, batchSize = 8, epochs = 2) |> ignore
            Expect.isFalse (info.Entries |> List.exists (fun e -> e.Level < LogLevel.Information)) "nothing below the logger's level"
            Expect.equal (info.Entries |> List.filter (fun e -> e.Event.Id = LoggingCallback.Events.EpochEnd.Id)).Length 2 "the epochs"
            let silent = ListLogger(LogLevel.Trace)
            model.Logger <- (silent :> ILogger)
            model.Fit(x, y, batchSize = 8, epochs = 2, verbose = quiet) |> ignore
            Expect.isEmpty silent.Entries "verbose 0: no fit log"
            use cts = new CancellationTokenSource()
            let stop = LambdaCallback(onTrainBatchEnd = Action<int, IDictionary<string, float>>(fun b _ -> if b = 1 then cts.Cancel()))
            expectCancelled (model.FitAsync(x, y, batchSize = 8, epochs = 2, verbose = 1, callbacks = [ stop :> Callback ], cancellationToken = cts.Token))
            let cancelled = silent.Entries |> List.filter (fun e -> e.Event.Id = LoggingCallback.Events.Cancelled.Id)
            Expect.equal cancelled.Length 1 "the cancellation is logged"
            Expect.equal (cancelled.Head.Properties.["Step"] :?> int, cancelled.Head.Properties.["Epoch"] :?> int) (2, 1) "after 2 steps of epoch 1"
        }
    ]
