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

/// Runs `f`, sampling the managed heap every millisecond: the peak growth over the heap before (collected), the bytes
/// allocated, and the growth still held after a full collection while the result is alive.
let heapDuring (f: unit -> 'a) : 'a * int64 * int64 * int64 =
    let before = GC.GetTotalMemory(true)
    let allocatedBefore = GC.GetTotalAllocatedBytes(true)
    let mutable peak = before
    let mutable running = true
    let sampler = Thread((fun () ->
        while Volatile.Read(&running) do
            peak <- max peak (GC.GetTotalMemory(false))
            Thread.Sleep 1), IsBackground = true)
    sampler.Start()
    let result = f ()
    Volatile.Write(&running, false)
    sampler.Join()
    peak <- max peak (GC.GetTotalMemory(false))
    let allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore
    let retained = GC.GetTotalMemory(true) - before
    GC.KeepAlive result
    result, peak - before, allocated, retained

let private timed label (f: unit -> 'a) =
    let sw = Stopwatch.StartNew()
    let r = f ()
    printfn "    %s: %.2f s" label sw.Elapsed.TotalSeconds
    r

[<Tests>]
let tests =
    testList "Hostile documents" [
        test "loading a 20,000-layer chain holds at most 13 times the document's UTF-8 size on the managed heap at its peak" {
            // The finished model keeps about 2.6 times the document. The document's whole node tree takes about 12 times
            // it by itself (a peak of about 17 times with the model); reading the layer list one entry at a time from the
            // UTF-8 text (ConfigDocument.ParseModel) brought the peak, garbage included, to about 10 times.
            let n = 20_000
            let json = chainDocument n
            let utf8 = int64 (Encoding.UTF8.GetByteCount json)
            let model, peak, allocated, retained = heapDuring (fun () -> ModelConfig.FromJson<Model> json)
            printfn "    %d layers, %d bytes of UTF-8: peak heap growth %d (%.1fx), allocated %d (%.1fx), retained %d (%.1fx)"
                n utf8 peak (float peak / float utf8) allocated (float allocated / float utf8) retained (float retained / float utf8)
            Expect.equal model.Operations.Length (n + 1) "every layer and the input"
            Expect.isLessThan peak (utf8 * 13L) (sprintf "a peak of %d bytes for %d bytes of UTF-8" peak utf8)
        }

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
    
        test "a 100,000-layer chain declared from tensors, and a 100,000-layer Sequential, work on a 1 MB stack" {
            let n = 100_000
            let graph, sequential =
                onSmallStack (fun () ->
                    let x = Graph.Input(4)
                    let mutable y = x
                    for _ in 1 .. n do y <- Dense(4).Call(y: SymbolicTensor)
                    let graph = timed "declare the graph" (fun () -> Model(x, y))
                    let sequential = timed "declare the Sequential" (fun () -> Sequential("s", [ yield Input(4) :> Layer; for _ in 1 .. n -> Dense(4) :> Layer ]))
                    let back = timed "Sequential round trip" (fun () -> ModelConfig.FromJson<Sequential>(sequential.ToJson(indented = false)))
                    Expect.isTrue (back.Equals sequential) "FromJson(ToJson s) = s"
                    graph, sequential)
            Expect.equal graph.Operations.[n].Name "dense_99999" "Keras's default names, in order"
            Expect.equal graph.ParameterCount (int64 n * 20L) "every layer counted"
            Expect.equal sequential.ParameterCount (int64 n * 20L) "every layer counted"
        }

        test "FromJson, reading the layer list entry by entry, agrees with reading the whole node tree" {
            // FromJson keeps only each layer entry's place in the text (ConfigDocument.ParseModel); Deserialize reads a
            // caller's node tree. Same model, or the same error at the same path, for every document at hand: the Keras
            // fixtures, and each of them broken in ways that hit the layer list (a wrong entry, a bare-list config on a
            // graph, a missing list).
            let read (f: unit -> IModel) = try Ok (f ()) with :? ModelConfigException as e -> Error (e.JsonPath, e.Message)
            let agree (label: string) (json: string) =
                let streamed = read (fun () -> ModelConfig.FromJson json)
                let whole = read (fun () -> ModelConfig.Deserialize(Nodes.JsonNode.Parse json))
                Expect.equal streamed whole label
                streamed
            let docs =
                [ yield "small", (small () :> IModel).ToJson()
                  yield "sequential", (Sequential("s", [ Input(3) :> Layer; Dense(2) ]) :> IModel).ToJson(indented = false)
                  yield "legacy sequential", """{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"units": 4, "batch_input_shape": [null, 3]}}]}"""
                  yield "legacy list on a graph", """{"class_name": "Functional", "config": [{"class_name": "Dense", "config": {"units": 4}}]}"""
                  yield "no layers", """{"class_name": "Functional", "config": {"name": "f", "input_layers": [], "output_layers": []}}"""
                  yield "layers not a list", """{"class_name": "Sequential", "config": {"name": "s", "layers": {"a": 1}}}"""
                  yield "a number for an entry", """{"class_name": "Sequential", "config": {"name": "s", "layers": [1, "x", null]}}"""
                  yield "config after class", """{"config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}}], "name": "s"}, "class_name": "Sequential"}"""
                  match kerasFixtures () with
                  | Some dir ->
                      for case, _ in fixtureCases do
                          let file = IO.Path.Combine(dir, case)
                          if IO.File.Exists file then yield case, kerasConfigText file
                  | None -> printfn "    ../shared/keras-fixtures is absent: only the built-in documents are compared" ]
            let mutable loaded = 0
            for label, json in docs do
                match agree label json with
                | Ok _ -> loaded <- loaded + 1
                | Error _ -> ()
                // The same document with its second layer entry replaced by a wrong one, when it has a layer list.
                let doc = Nodes.JsonNode.Parse json
                match doc with
                | :? Nodes.JsonObject as o ->
                    let list =
                        match o.["config"] with
                        | :? Nodes.JsonArray as a -> Some a
                        | :? Nodes.JsonObject as c -> match c.["layers"] with :? Nodes.JsonArray as a -> Some a | _ -> None
                        | _ -> None
                    match list with
                    | Some a when a.Count > 1 ->
                        a.[1] <- Nodes.JsonNode.Parse """{"class_name": "Dense", "config": {"units": -1}, "name": "bad"}"""
                        agree (label + " with a bad entry") (doc.ToJsonString()) |> ignore
                    | _ -> ()
                | _ -> ()
            Expect.isGreaterThanOrEqual loaded 3 "some documents load"
        }

        testList "a bad document is a ModelConfigException with the path and a short message" [
            let small = """{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"units": 2, "name": "d"}}]}}"""
            let fails (json: string) =
                let before = GC.GetAllocatedBytesForCurrentThread()
                let e = try ModelConfig.FromJson json |> ignore; failtest "the document was accepted" with :? ModelConfigException as e -> e
                e, GC.GetAllocatedBytesForCurrentThread() - before
            let short (e: ModelConfigException) = Expect.isLessThanOrEqual e.Message.Length 1000 (sprintf "a short message, not %d characters" e.Message.Length)

            test "a duplicate key names its path" {
                let e, _ = fails (small.Replace("\"units\": 2", "\"units\": 2, \"units\": 3"))
                expectError e "$.config.layers[1].config.units" [ "'units' appears more than once" ]
            }

            test "an unpaired surrogate escape names its path" {
                let e, _ = fails (small.Replace("\"name\": \"d\"", "\"name\": \"d\\ud800\""))
                expectError e "$.config.layers[1].config.name" [ "not valid Unicode" ]
                let e, _ = fails (small.Replace("\"units\"", "\"\\udc00\""))
                expectError e "$.config.layers[1].config" [ "key is not valid Unicode" ]
            }

            test "an unpaired surrogate in the text itself is reported, not thrown as an encoding error" {
                let e, _ = fails (small.Replace("\"d\"", "\"d" + string (char 0xD800) + "\""))
                expectError e "$" [ "unpaired surrogate at character" ]
            }

            test "malformed JSON names where the parser stopped" {
                let e, _ = fails (small.Replace("[null, 4]", "[null, 4"))
                Expect.stringStarts e.JsonPath "$.config.layers[0].config.batch_shape" "inside the list that is not closed"
            }

            test "a 20 MB string in a field quotes an excerpt, and loading allocates a small multiple of the document" {
                let big = String('x', 20_000_000)
                let json = small.Replace("\"units\": 2", sprintf "\"units\": \"%s\"" big)
                let e, allocated = fails json
                expectError e "$.config.layers[1].config.units" [ "expected an integer"; "…" ]
                short e
                Expect.isLessThan allocated (int64 json.Length * 2L * 6L) (sprintf "allocated %d bytes for a %d-character document" allocated json.Length)
            }

            test "a million-value kernel_size is refused quoting 32 values, and reading it makes no node or path per value" {
                let values = String.Join(", ", Array.create 1_000_000 "3")
                let json =
                    """{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}}, """
                    + sprintf """{"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [%s]}}]}}""" values
                let e, allocated = fails json
                expectError e "$.config.layers[1].config.kernel_size" [ "tuple of 2 integers"; "… (1,000,000 in all)" ]
                short e
                printfn "    allocated %d bytes for a %d-character document (%.1fx its UTF-8)" allocated json.Length (float allocated / float json.Length)
                // Read as nodes, each value cost a node (about 100 bytes) and a path string on top of the two documents parsed.
                Expect.isLessThan allocated (int64 json.Length * 40L) (sprintf "allocated %d bytes for a %d-character document" allocated json.Length)
            }

            test "a 20 MB key quotes an excerpt in the path and the message" {
                let json = small.Replace("\"units\": 2", sprintf "\"%s\": 2" (String('k', 20_000_000)))
                let e, allocated = fails json
                short e
                Expect.isLessThanOrEqual e.JsonPath.Length 400 "a short path"
                Expect.isLessThan allocated (int64 json.Length * 2L * 8L) (sprintf "allocated %d bytes for a %d-character document" allocated json.Length)
            }

            test "a reference to a missing layer among 100,000 names lists only some of them" {
                let json = (chainDocument 20_000).Replace("\"output_layers\": [[\"d20000\"", "\"output_layers\": [[\"nowhere\"")
                let e, _ = fails json
                expectError e "$.config.output_layers[0]" [ "refers to layer 'nowhere'"; "in all" ]
                short e
            }

            test "nesting past 64 levels is refused with a path, on a 1 MB stack, however deep" {
                for depth in [ 65; 100_000 ] do
                    let nested = String('[', depth) + String(']', depth)
                    let e = onSmallStack (fun () -> fst (fails (small.Replace("\"units\": 2", sprintf "\"units\": %s" nested))))
                    Expect.stringStarts e.JsonPath "$.config.layers[1].config.units[0]" (sprintf "depth %d: inside the nested lists" depth)
                    Expect.stringContains e.Message "depth" "says the depth is the problem"
                    short e
            }

            test "a huge list in place of a config object is quoted as an excerpt" {
                let list = "[" + String.Join(", ", Seq.replicate 1_000_000 "1") + "]"
                let e, _ = fails (small.Replace("{\"units\": 2, \"name\": \"d\"}", list))
                expectError e "$.config.layers[1].config" [ "[1, 1, 1"; "…" ]
                short e
            }
        ]
    ]
