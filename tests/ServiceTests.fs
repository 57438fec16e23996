/// examples/Service against a real Kestrel on a loopback port, with a real HttpClient: a model trained and saved here
/// as the main job saves one (config JSON + safetensors) is loaded by the service; a burst of concurrent JSON and image
/// requests must equal sequential Predict calls; bad input is a 400 with a JSON message, never a 500 (issue 16 item 3).
module Functional.Tests.ServiceTests

open System
open System.IO
open System.Net
open System.Net.Http
open System.Net.Http.Headers
open System.Runtime.InteropServices
open System.Text
open System.Text.Json
open System.Threading.Tasks
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Hosting
open Microsoft.Extensions.Logging
open Expecto
open SkiaSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Data
open Functional.Torch.Data
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Examples.Service
open Functional.Tests.Support
open Functional.Tests.TrainingTests

/// A small CNN trained for one epoch on 1,000 real digits and saved as FILE.json + FILE.safetensors in `dir`; returns
/// the config's path, the trained network's own predictions for `held`'s digits, and those digits.
let private trainAndSave (dir: string) =
    torchReady 16
    let digits = DigitSet.Load(DigitSet.FindRepositoryData "mnist")
    let struct (train, rest) = digits.Split(1000, seed = 16)
    let struct (held, _) = rest.Split(64, seed = 16)
    let model =
        Sequential(Input(28, 28, 1), Conv2D(8, 3, activation = "relu"), MaxPooling2D(2), Flatten(),
                   Dense(10, activation = "softmax"))
    use net = BuiltNetwork.Build model
    use x = DigitTensors.Images train
    use y = DigitTensors.Labels train
    let compiled = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
    compiled.Fit(x, y, batchSize = 64, epochs = 1, verbose = quiet) |> ignore
    let config = Path.Combine(dir, "digits.json")
    File.WriteAllText(config, model.ToJson())
    net.SaveWeights(ServedModel.WeightsPathFor config)
    use heldX = DigitTensors.Images held
    use p = net.Predict(heldX)
    let probabilities = Array.init held.Count (fun i -> p.[int64 i].data<float32>().ToArray())
    config, probabilities, held

/// One digit's pixels as 0..255 bytes, and as the floats the model was trained on (bytes / 255).
let private pixels (set: DigitSet) i = set.Images.[i * 784 .. i * 784 + 783]
let private floats (set: DigitSet) i = pixels set i |> Array.map (fun b -> float32 b / 255.0f)

/// A digit encoded as an 8-bit grey PNG (lossless) or JPEG (lossy).
let private encode (format: SKEncodedImageFormat) (bytes: byte[]) =
    use bitmap = new SKBitmap(SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque))
    Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length)
    use data = bitmap.Encode(format, 90)
    data.ToArray()

let private png = encode SKEncodedImageFormat.Png
let private jpeg = encode SKEncodedImageFormat.Jpeg

/// The service on 127.0.0.1 with an ephemeral port; disposing it stops Kestrel and releases the model.
type private Running(served: ServedModel, options: ServiceOptions) =
    let app =
        ServiceHost.Create(served, options, configure = Action<WebApplicationBuilder>(fun b ->
            b.WebHost.UseUrls("http://127.0.0.1:0") |> ignore
            b.Logging.ClearProviders() |> ignore))
    do app.StartAsync().Wait()
    let client = new HttpClient(BaseAddress = Uri(Seq.head app.Urls), Timeout = TimeSpan.FromSeconds 30.0)
    member _.Client = client
    member _.Address = Seq.head app.Urls
    interface IDisposable with
        member _.Dispose() =
            client.Dispose()
            app.StopAsync().Wait()
            (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
            served.Dispose()

let private json (text: string) = new StringContent(text, Encoding.UTF8, "application/json")

let private rows (values: float32[]) =
    values |> Array.chunkBySize 28 |> Array.map (fun r -> "[" + String.Join(",", r) + "]") |> fun rs -> "[" + String.Join(",", rs) + "]"

let private flat (values: float32[]) = "[" + String.Join(",", values) + "]"

let private instances (items: string seq) = sprintf """{"instances": [%s]}""" (String.Join(",", items))

/// Sends a request; returns the status and the parsed JSON body.
let private send (client: HttpClient) (content: HttpContent) =
    task {
        use! response = client.PostAsync("/predict", content)
        let! body = response.Content.ReadAsStringAsync()
        let doc =
            try JsonDocument.Parse(body).RootElement.Clone()
            with e -> failtestf "the answer (%O) is not JSON: %s (%s)" response.StatusCode body e.Message
        return response.StatusCode, doc
    }

let private predictions (doc: JsonElement) =
    [| for p in doc.GetProperty("predictions").EnumerateArray() -> [| for v in p.EnumerateArray() -> v.GetSingle() |] |]

let private classes (doc: JsonElement) = [| for c in doc.GetProperty("classes").EnumerateArray() -> c.GetInt32() |]

let private argmax (p: float32[]) = Array.findIndex ((=) (Array.max p)) p

let private close (what: string) (actual: float32[]) (expected: float32[]) =
    Expect.equal actual.Length expected.Length (what + ": one value per class")
    let worst = Array.map2 (fun (a: float32) b -> abs (a - b)) actual expected |> Array.max
    Expect.isLessThan worst 1e-5f (sprintf "%s: the service's probabilities equal Predict's (worst difference %g)" what worst)

let private multipart (parts: (string * string * byte[]) list) =
    let content = new MultipartFormDataContent()
    for field, file, bytes in parts do
        let part = new ByteArrayContent(bytes)
        part.Headers.ContentType <- MediaTypeHeaderValue("image/png")
        content.Add(part, field, file)
    content

let private raw (mediaType: string) (bytes: byte[]) =
    let content = new ByteArrayContent(bytes)
    if mediaType <> "" then content.Headers.ContentType <- MediaTypeHeaderValue(mediaType)
    content

/// The burst: 8 clients, 8 requests each, every kind of request (each names the digits it sends); every answer must be
/// 200 and equal the sequential predictions of those digits.
let private burst (client: HttpClient) (held: DigitSet) (sequential: float32[][]) =
    let request (k: int) : HttpContent * int list =
        let i = k % held.Count
        let j = (k * 7 + 3) % held.Count
        match k % 6 with
        | 0 -> json (instances [ rows (floats held i) ]), [ i ]
        | 1 -> json (instances [ flat (floats held i); rows (floats held j) ]), [ i; j ]
        | 2 ->
            let nested = floats held i |> Array.map (fun v -> "[" + string v + "]") |> Array.chunkBySize 28
                         |> Array.map (fun r -> "[" + String.Join(",", r) + "]") |> fun r -> "[" + String.Join(",", r) + "]"
            json (instances [ nested ]), [ i ]
        | 3 -> raw "image/png" (png (pixels held i)), [ i ]
        | 4 -> multipart [ "image", "a.png", png (pixels held i); "image", "b.png", png (pixels held j) ], [ i; j ]
        | _ -> json (instances [ sprintf """{"b64": "%s"}""" (Convert.ToBase64String(png (pixels held i))) ]), [ i ]
    let clients =
        [| for c in 0 .. 7 ->
            Task.Run<(int * int list * HttpStatusCode * JsonElement) list>(Func<Task<_>>(fun () ->
                task {
                    let results = ResizeArray()
                    for r in 0 .. 7 do
                        let k = c * 8 + r
                        let content, digits = request k
                        let! status, doc = send client content
                        results.Add((k, digits, status, doc))
                    return List.ofSeq results
                })) |]
    Task.WaitAll(clients |> Array.map (fun t -> t :> Task))
    let answers = clients |> Array.collect (fun t -> Array.ofList t.Result)
    Expect.equal answers.Length 64 "64 answers"
    for k, digits, status, doc in answers do
        Expect.equal status HttpStatusCode.OK (sprintf "request %d: %s" k (doc.ToString()))
        let ps = predictions doc
        Expect.equal ps.Length digits.Length (sprintf "request %d: one prediction per instance" k)
        List.iteri (fun n d ->
            close (sprintf "request %d, digit %d" k d) ps.[n] sequential.[d]
            Expect.equal (classes doc).[n] (argmax sequential.[d]) (sprintf "request %d: class = argmax" k)) digits


[<Tests>]
let tests =
    testSequenced <| testList "Service" [
        test "a burst of 64 concurrent requests (8 clients; JSON, PNG, multipart, base64) equals sequential Predict, with and without micro-batching; health and bad input answer as documented" {
            let dir = Directory.CreateTempSubdirectory("functional-service-").FullName
            try
                let config, trained, held = trainAndSave dir
                let served = ServedModel.Load(config)
                // The saved and reloaded model predicts what the trained one did.
                let sequential =
                    Array.init held.Count (fun i ->
                        let p = served.Predict(floats held i, 1)
                        close (sprintf "reloaded model, digit %d" i) p trained.[i]
                        p)
                let options = ServiceOptions(MaxInstances = 16, MaxBodyBytes = 256L * 1024L, MaxImagePixels = 300L * 300L)
                use service = new Running(served, options)
                let client = service.Client
                Expect.stringStarts service.Address "http://127.0.0.1:" "a loopback port"

                // Health.
                let health = client.GetStringAsync("/health").Result |> JsonDocument.Parse
                Expect.equal (health.RootElement.GetProperty("status").GetString()) "ok" "status"
                Expect.equal (health.RootElement.GetProperty("model").GetString()) served.Name "the model's name"
                Expect.equal [ for d in health.RootElement.GetProperty("input_shape").EnumerateArray() -> d.GetInt32() ] [ 28; 28; 1 ] "input shape"
                Expect.equal [ for d in health.RootElement.GetProperty("output_shape").EnumerateArray() -> d.GetInt32() ] [ 10 ] "output shape"

                burst client held sequential

                // A JPEG (lossy) upload: what the service says is Predict on the JPEG's decoded pixels.
                let jpg = jpeg (pixels held 0)
                let status, doc = (send client (raw "image/jpeg" jpg)).Result
                Expect.equal status HttpStatusCode.OK (doc.ToString())
                use decoded = Images.DecodeImage(jpg, ColorMode.Grayscale)
                let expected = served.Predict(decoded.div((255.0f).ToScalar()).contiguous().data<float32>().ToArray(), 1)
                close "a JPEG upload" (predictions doc).[0] expected

                // Bad input: 400 with a message naming the problem.
                let digit = floats held 0
                let ragged = "[" + String.Join(",", Array.init 28 (fun r -> flat digit.[r * 28 .. r * 28 + (if r = 5 then 26 else 27)])) + "]"
                let wide = "[" + String.Join(",", Array.init 28 (fun _ -> "[" + String.Join(",", Array.create 28 "[0,0,0]") + "]")) + "]"
                let withValue (v: string) = flat (Array.create 783 0.5f) |> fun s -> s.Substring(0, s.Length - 1) + "," + v + "]"
                let big = instances [ flat digit ] + String(' ', 300_000)
                let cases : (string * (unit -> HttpContent) * string list) list = [
                    "a ragged row", (fun () -> json (instances [ ragged ])), [ "instances[0][5] has 27 elements; expected 28" ]
                    "three channels", (fun () -> json (instances [ wide ])), [ "instances[0][0][0] has 3 elements; expected 1" ]
                    "the wrong flat length", (fun () -> json (instances [ flat digit.[0..99] ])), [ "instances[0] has 100 elements; expected 784" ]
                    "a vector of vectors of vectors of vectors", (fun () -> json (instances [ "[[[[0]]]]" ])), [ "instances[0] has shape (1, 1, 1, 1)"; "(28, 28, 1), (28, 28) or (784)" ]
                    "\"NaN\" as a string", (fun () -> json (instances [ withValue "\"NaN\"" ])), [ "instances[0][783] is a string (\"NaN\"), not a number" ]
                    "a bare NaN", (fun () -> json (instances [ withValue "NaN" ])), [ "not valid JSON" ]
                    "a number beyond float32", (fun () -> json (instances [ withValue "1e39" ])), [ "instances[0][783] is 1e39, which is not a finite float32 number" ]
                    "a pixel in 0..255", (fun () -> json (instances [ withValue "255" ])), [ "instances[0][783] is 255, outside the range [0, 1]" ]
                    "null", (fun () -> json (instances [ withValue "null" ])), [ "instances[0][783] is null, not a number" ]
                    "a string instance", (fun () -> json (instances [ "\"seven\"" ])), [ "instances[0] is a string (\"seven\")" ]
                    "the columnar format", (fun () -> json """{"inputs": [[0]]}"""), [ "columnar format" ]
                    "an array for a body", (fun () -> json "[[0]]"), [ "Expected a JSON object"; "an array of 1" ]
                    "no instances", (fun () -> json """{"instances": []}"""), [ "'instances' is empty" ]
                    "an unknown key", (fun () -> json """{"instances": [[0]], "instance": 1}"""), [ "Unexpected key 'instance'" ]
                    "truncated JSON", (fun () -> json """{"instances": [[0.5, 0.5"""), [ "not valid JSON" ]
                    "an empty JSON body", (fun () -> json ""), [ "The request body is empty" ]
                    "too many instances", (fun () -> json (instances (List.replicate 17 (flat digit)))), [ "17 instances"; "at most 16" ]
                    "a body over the limit", (fun () -> json big), [ "bytes; the most this service takes is 262144" ]
                    "a body over the limit, sent after 100-continue", (fun () -> json big), [ "bytes; the most this service takes is 262144" ]
                    "a chunked body over the limit", (fun () ->
                        let content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes big))
                        content.Headers.ContentType <- MediaTypeHeaderValue("application/json")
                        content.Headers.ContentLength <- Nullable()
                        content :> HttpContent), [ "larger than 262144 bytes" ]
                    "a corrupt PNG", (fun () -> raw "image/png" (Array.append (png (pixels held 0)).[0..40] (Array.create 50 7uy))), [ "The request body is not a PNG or JPEG image this service can read" ]
                    "a PNG declaring more pixels than --max-image-pixels", (fun () ->
                        // 400 x 400 black pixels: a few hundred bytes of PNG, refused from its header before decoding.
                        use bitmap = new SKBitmap(SKImageInfo(400, 400, SKColorType.Gray8, SKAlphaType.Opaque))
                        bitmap.Erase(SKColors.Black)
                        use data = bitmap.Encode(SKEncodedImageFormat.Png, 90)
                        raw "image/png" (data.ToArray())), [ "declares a 400x400 image (160000 pixels)"; "at most 90000 pixels (--max-image-pixels)" ]
                    "text as a PNG", (fun () -> raw "image/png" (Encoding.ASCII.GetBytes "hello")), [ "The request body is not a PNG or JPEG image (it starts with 68656C6C6F)" ]
                    "an empty PNG body", (fun () -> raw "image/png" [||]), [ "The image/png body is empty" ]
                    "bad base64", (fun () -> json (instances [ """{"b64": "not base64!"}""" ])), [ "instances[0].b64 must be a base64 string" ]
                    "another object", (fun () -> json (instances [ """{"pixels": [0]}""" ])), [ "instances[0] is an object" ]
                    "a multipart text field", (fun () ->
                        let content = new MultipartFormDataContent()
                        content.Add(new StringContent("7"), "label")
                        content :> HttpContent), [ "The multipart part 'label' is not a file" ]
                    "a corrupt multipart image", (fun () -> multipart [ "image", "x.png", Encoding.ASCII.GetBytes "not an image" ] :> HttpContent), [ "part 'image' (x.png)"; "not a PNG or JPEG image" ]
                    "a malformed multipart body", (fun () ->
                        let content = raw "" (Encoding.ASCII.GetBytes "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nabc")
                        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b") |> ignore
                        content), [ "multipart/form-data body is malformed" ]
                    "multipart without a boundary", (fun () ->
                        let content = raw "" [| 1uy |]
                        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data") |> ignore
                        content), [ "has no boundary" ]
                    "text/plain", (fun () -> new StringContent("0.5", Encoding.UTF8, "text/plain") :> HttpContent), [ "The Content-Type 'text/plain' is not accepted" ]
                    "no Content-Type", (fun () -> raw "" (Encoding.UTF8.GetBytes (instances [ flat digit ]))), [ "no Content-Type" ]
                ]
                for name, content, fragments in cases do
                    let status, doc =
                        if name.EndsWith "100-continue" then
                            // As curl sends large bodies: the 400 comes before any of the body is sent.
                            use request = new HttpRequestMessage(HttpMethod.Post, "/predict", Content = content ())
                            request.Headers.ExpectContinue <- Nullable true
                            use response = client.SendAsync(request).Result
                            response.StatusCode, JsonDocument.Parse(response.Content.ReadAsStringAsync().Result).RootElement.Clone()
                        else (send client (content ())).Result
                    Expect.equal status HttpStatusCode.BadRequest (sprintf "%s: 400 (%s)" name (doc.ToString()))
                    let message = doc.GetProperty("error").GetString()
                    for f in fragments do Expect.stringContains message f (sprintf "%s: the message names the problem" name)

                // After all that the service still answers, and answers right.
                let status, doc = (send client (json (instances [ rows digit ]))).Result
                Expect.equal status HttpStatusCode.OK "still serving"
                close "after bad input" (predictions doc).[0] sequential.[0]

                // The same burst with micro-batching: concurrent requests share Predict calls, each gets its own rows.
                use batched = new Running(ServedModel.Load(config), ServiceOptions(MicroBatch = true, BatchSize = 8))
                burst batched.Client held sequential
            finally
                try Directory.Delete(dir, true) with _ -> ()
        }

        test "start-up: a missing model, missing weights or a bad option is one message and exit code 2, before anything listens" {
            let dir = Directory.CreateTempSubdirectory("functional-service-").FullName
            try
                let missing = Path.Combine(dir, "model.json")
                throwsWith<ModelLoadException> [ "No model config at"; missing; "dotnet run --project examples/Mnist" ] (fun () ->
                    ServedModel.Load(missing) |> ignore)
                File.WriteAllText(missing, Sequential(Input(4), Dense(2)).ToJson())
                throwsWith<ModelLoadException> [ "has no weights next to it"; Path.Combine(dir, "model.safetensors") ] (fun () ->
                    ServedModel.Load(dir) |> ignore)
                File.WriteAllText(Path.Combine(dir, "model.safetensors"), "not safetensors")
                throwsWith<ModelLoadException> [ "Cannot load the weights" ] (fun () -> ServedModel.Load(missing) |> ignore)
                File.WriteAllText(missing, """{"class_name": "Sequential", "config": {"layers": [{"class_name": "Conv9D"}]}}""")
                throwsWith<ModelLoadException> [ "Cannot read the model config"; "Conv9D" ] (fun () -> ServedModel.Load(missing) |> ignore)
                let error = Console.Error
                use captured = new StringWriter()
                Console.SetError captured
                try
                    Expect.equal (ServiceHost.RunAsync([| "--model"; Path.Combine(dir, "none.json") |]).Result) 2 "a missing model"
                    Expect.equal (ServiceHost.RunAsync([| "--modle"; missing |]).Result) 2 "an unknown option"
                    Expect.equal (ServiceHost.RunAsync([| "--max-body-bytes"; "-5" |]).Result) 2 "a bad limit"
                    Expect.equal (ServiceHost.RunAsync([| "--value-range"; "1,0" |]).Result) 2 "a bad range"
                    Expect.equal (ServiceHost.RunAsync([| "--micro-batch=maybe" |]).Result) 2 "a bad flag"
                finally
                    Console.SetError error
                let text = captured.ToString()
                for f in [ "service: No model config at"; "none.json"; "Unknown option '--modle'"; "--max-body-bytes expects a positive integer"; "--value-range expects MIN,MAX"; "--micro-batch expects true or false; received 'maybe'" ] do
                    Expect.stringContains text f "stderr names the problem"
            finally
                try Directory.Delete(dir, true) with _ -> ()
        }
    ]
