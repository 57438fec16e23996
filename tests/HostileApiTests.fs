/// Hostile input against the APIs of issue 16: the image helpers, image_dataset_from_directory and the async fit/evaluate/
/// predict. Every probe expects a clear managed exception that names the argument or file (never a native crash, a hang, an
/// unbounded allocation or silent garbage), and a model left as it was before the error.
module Functional.Tests.HostileApiTests

open System
open System.IO
open System.Threading
open System.Threading.Tasks
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
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Examples.Service
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.TrainingTests
open Functional.Tests.ImageTests
open Functional.Tests.AsyncTests

/// `throwsWith` for an exception of `'e` or any subclass, also when it comes back through a task.
let throwsKind<'e when 'e :> exn> (fragments: string list) (action: unit -> unit) =
    let caught =
        try
            action ()
            None
        with
        | :? AggregateException as a when a.InnerExceptions.Count = 1 -> Some a.InnerExceptions.[0]
        | e -> Some e
    match caught with
    | Some(:? 'e as e) ->
        for f in fragments do
            Expect.stringContains e.Message f (sprintf "the %s should name %s" (e.GetType().Name) f)
    | other -> failtestf "expected %s, got %A" typeof<'e>.Name other

/// The ParamName of the ArgumentException the action throws.
let paramOf (action: unit -> unit) =
    try
        action ()
        failtest "expected an ArgumentException"
        ""
    with :? ArgumentException as e -> e.ParamName

/// Runs `work` on another thread and fails (instead of hanging the suite) when it has not finished in `seconds`.
let finishes (seconds: int) (what: string) (work: unit -> 'a) : 'a =
    let task = Task.Run(fun () -> work ())
    if not (task.Wait(TimeSpan.FromSeconds(float seconds))) then failtestf "%s did not finish (a hang)" what
    task.Result

/// A stream that refuses to seek and reads in small pieces.
type TrickleStream(bytes: byte[]) =
    inherit Stream()
    let mutable at = 0
    override _.CanRead = true
    override _.CanSeek = false
    override _.CanWrite = false
    override _.Length = raise (NotSupportedException "no length")
    override _.Position with get () = raise (NotSupportedException "no position") and set _ = raise (NotSupportedException "no position")
    override _.Flush() = ()
    override _.Seek(_, _) = raise (NotSupportedException "no seek")
    override _.SetLength _ = raise (NotSupportedException "no length")
    override _.Write(_, _, _) = raise (NotSupportedException "read-only")
    override _.Read(buffer: byte[], offset: int, count: int) =
        let n = min (min count 7) (bytes.Length - at)
        Array.blit bytes at buffer offset n
        at <- at + n
        n

/// A stream whose reads fail after the first few bytes (a dropped connection).
type FailingStream(bytes: byte[]) =
    inherit TrickleStream(bytes)
    let mutable reads = 0
    override _.Read(buffer: byte[], offset: int, count: int) =
        reads <- reads + 1
        if reads > 2 then raise (IOException "connection reset by peer")
        base.Read(buffer, offset, count)

/// A batch source that hands out an inner source's batches and keeps the enumerators it made (to see them disposed).
type Watched(inner: IBatchSource) =
    let made = Collections.Generic.List<Collections.Generic.IEnumerator<Batch>>()
    member _.Enumerators = List.ofSeq made
    interface IBatchSource with
        member _.StepsPerEpoch = inner.StepsPerEpoch
        member _.Batches epoch =
            { new Collections.Generic.IEnumerable<Batch> with
                member _.GetEnumerator() =
                    let e = inner.Batches(epoch).GetEnumerator()
                    made.Add e
                    e
              interface Collections.IEnumerable with
                  member this.GetEnumerator() = (this :?> Collections.Generic.IEnumerable<Batch>).GetEnumerator() :> Collections.IEnumerator }

/// Throws from the training batch hook once `after` batches ended.
type ThrowingCallback(after: int) =
    inherit Callback()
    member val Seen = 0 with get, set
    override this.OnTrainBatchEnd(_, _) =
        this.Seen <- this.Seen + 1
        if this.Seen > after then raise (InvalidOperationException "callback failed on purpose")

/// Calls `onBatch` at each training batch end (on the fit thread).
type OnBatch(onBatch: int -> unit) =
    inherit Callback()
    override _.OnTrainBatchEnd(batch, _) = onBatch batch

let weightsOf (net: BuiltNetwork) = net.Weights |> Seq.map (fun w -> floats (w.Parameter :> torch.Tensor)) |> Array.ofSeq

/// A small gray digit tree: `perClass` PNGs in each of the folders of the first `classes` digits.
let smallTree (root: string) (classes: int) (perClass: int) =
    writeDigitTree root perClass 0
    for c in classes .. 9 do
        Directory.Delete(Path.Combine(root, classWords.[c]), true)

let gray = ColorMode.Grayscale

[<Tests>]
let tests =
    testSequenced <| testList "HostileApi" [
        testList "Images" [
            test "LoadImage: null, blank, missing, a directory — managed errors naming the path" {
                throwsKind<ArgumentNullException> [] (fun () -> Images.LoadImage null |> ignore)
                throwsKind<ArgumentException> [] (fun () -> Images.LoadImage "   " |> ignore)
                throwsKind<ArgumentException> [] (fun () -> Images.LoadImage "a\000b.png" |> ignore)
                withTree (fun dir ->
                    let missing = Path.Combine(dir, "nope.png")
                    throwsKind<FileNotFoundException> [ missing ] (fun () -> Images.LoadImage missing |> ignore)
                    let folder = Path.Combine(dir, "folder.png")
                    Directory.CreateDirectory folder |> ignore
                    throwsKind<FileNotFoundException> [ folder; "directory" ] (fun () -> Images.LoadImage folder |> ignore))
            }

            test "LoadImage: a device or a named pipe is refused from its size, never read forever or waited on" {
                if OperatingSystem.IsLinux() then
                    throwsKind<InvalidDataException> [ "/dev/zero"; "not a regular file" ] (fun () ->
                        finishes 20 "LoadImage /dev/zero" (fun () -> Images.LoadImage "/dev/zero" |> ignore))
                    withTree (fun dir ->
                        let fifo = Path.Combine(dir, "pipe.png")
                        use mk = Diagnostics.Process.Start("mkfifo", fifo)
                        mk.WaitForExit()
                        Expect.equal mk.ExitCode 0 "mkfifo"
                        throwsKind<InvalidDataException> [ fifo ] (fun () ->
                            finishes 20 "LoadImage on a FIFO" (fun () -> Images.LoadImage fifo |> ignore)))
            }

            test "DecodeImage: headers without pixels, lying headers and noise give InvalidDataException on every overload" {
                let p = png 3
                let inputs =
                    [ "one byte", [| 0x89uy |]
                      "PNG signature only", p.[.. 7]
                      "PNG up to IHDR", p.[.. 32]
                      "zeros", Array.zeroCreate 1000
                      "PNG signature then noise", Array.append p.[.. 7] (Array.init 500 (fun i -> byte (i * 31 % 256)))
                      "GIF header only", "GIF89a"B
                      "RIFF/WEBP header only", "RIFF\000\000\000\000WEBPVP8 "B
                      "BMP header only", Array.append "BM"B (Array.zeroCreate 12)
                      "JPEG SOI only", [| 0xFFuy; 0xD8uy; 0xFFuy |] ]
                for name, bytes in inputs do
                    let run (f: unit -> torch.Tensor) = throwsKind<InvalidDataException> [] (fun () -> f () |> ignore)
                    try
                        run (fun () -> Images.DecodeImage(bytes: byte[]))
                        run (fun () -> Images.DecodeImage(ReadOnlySpan<byte>(bytes)))
                        run (fun () -> Images.DecodeImage(new MemoryStream(bytes) :> Stream))
                        throwsKind<InvalidDataException> [] (fun () -> Images.ReadImageSize bytes |> ignore)
                    with e -> failtestf "%s: %s" name e.Message
                throwsKind<ArgumentNullException> [] (fun () -> Images.DecodeImage(null: byte[]) |> ignore)
                throwsKind<ArgumentNullException> [] (fun () -> Images.DecodeImage(null: Stream) |> ignore)
                throwsKind<ArgumentNullException> [] (fun () -> Images.ReadImageSize null |> ignore)
                throwsKind<InvalidDataException> [ "empty" ] (fun () -> Images.ReadImageSize [||] |> ignore)
            }

            test "target sizes 0, negative and huge are refused before decoding, naming targetSize" {
                let bytes = png 1
                for h, w in [ 0, 5; 5, 0; -1, 5; 5, Int32.MinValue; Int32.MaxValue, Int32.MaxValue; Int32.MaxValue, 1; 1, 100_000_000 ] do
                    Expect.equal (paramOf (fun () -> Images.DecodeImage(bytes, targetSize = size h w) |> ignore)) "targetSize" (sprintf "(%d, %d)" h w)
            }

            test "undefined enum values are refused by name on every entry point" {
                let bytes = png 2
                Expect.equal (paramOf (fun () -> Images.DecodeImage(bytes, colorMode = enum<ColorMode> 42) |> ignore)) "colorMode" "colorMode"
                Expect.equal (paramOf (fun () -> Images.DecodeImage(bytes, interpolation = enum<Interpolation> -1) |> ignore)) "interpolation" "interpolation"
                Expect.equal (paramOf (fun () -> Images.DecodeImage(ReadOnlySpan<byte>(bytes), colorMode = enum<ColorMode> -3) |> ignore)) "colorMode" "span"
                Expect.equal (paramOf (fun () -> Images.DecodeImage(new MemoryStream(bytes) :> Stream, interpolation = enum<Interpolation> 9) |> ignore)) "interpolation" "stream"
                withTree (fun dir ->
                    let f = Path.Combine(dir, "a.png")
                    File.WriteAllBytes(f, bytes)
                    Expect.equal (paramOf (fun () -> Images.LoadImage(f, colorMode = enum<ColorMode> 42) |> ignore)) "colorMode" "LoadImage"
                    Expect.equal (paramOf (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = null, colorMode = enum<ColorMode> 42) |> ignore)) "colorMode" "dataset"
                    Expect.equal (paramOf (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = null, interpolation = enum<Interpolation> -1) |> ignore)) "interpolation" "dataset")
            }

            test "streams: non-seekable and trickling decode as bytes do; a failing or disposed stream surfaces its own error; maxBytes bounds the read" {
                torchReady 0
                let bytes = png 7
                use expected = Images.DecodeImage(bytes, colorMode = gray)
                use fromTrickle = Images.DecodeImage(new TrickleStream(bytes), colorMode = gray)
                Expect.equal (floats fromTrickle) (floats expected) "a non-seekable stream read in 7-byte pieces gives the same pixels"
                throwsKind<IOException> [ "connection reset" ] (fun () -> Images.DecodeImage(new FailingStream(bytes)) |> ignore)
                let closed = new MemoryStream(bytes)
                closed.Dispose()
                throwsKind<ObjectDisposedException> [] (fun () -> Images.DecodeImage(closed) |> ignore)
                Expect.equal (paramOf (fun () -> Images.DecodeImage(new MemoryStream(bytes), maxBytes = 0L) |> ignore)) "maxBytes" "maxBytes 0"
                Expect.equal (paramOf (fun () -> Images.DecodeImage(new MemoryStream(bytes), maxBytes = -5L) |> ignore)) "maxBytes" "maxBytes < 0"
                throwsKind<InvalidDataException> [ "maxBytes = 10" ] (fun () -> Images.DecodeImage(new TrickleStream(bytes), maxBytes = 10L) |> ignore)
            }

            test "ArrayToImage: wrong rank, channels 2 and 5, empty, NaN/inf, out-of-range values without scaling" {
                torchReady 0
                let bad (t: torch.Tensor) (fragments: string list) scale =
                    use t = t
                    throwsKind<ArgumentException> fragments (fun () -> (Images.ArrayToImage(t, scale = scale)).Dispose())
                bad (torch.zeros(4L, 4L)) [ "rank 3" ] true
                bad (torch.zeros(1L, 4L, 4L, 3L)) [ "rank 3" ] true
                bad (torch.zeros(4L, 4L, 2L)) [ "2" ] true
                bad (torch.zeros(4L, 4L, 5L)) [ "5" ] true
                bad (torch.zeros(0L, 4L, 3L)) [ "non-empty" ] true
                bad (torch.full(4L, 4L, 1L, Double.NaN)) [ "NaN" ] true
                bad (torch.full(4L, 4L, 3L, Double.PositiveInfinity)) [ "infinity" ] true
                bad (torch.full(4L, 4L, 3L, -1.0)) [ "-1" ] false
                bad (torch.full(4L, 4L, 3L, 256.0)) [ "256" ] false
                throwsKind<ArgumentNullException> [] (fun () -> Images.ArrayToImage(null) |> ignore)
                // channels_first: (5, 4, 4) has 5 channels on axis 0.
                Expect.equal (paramOf (fun () -> Images.ArrayToImage(torch.zeros(5L, 4L, 4L), DataFormat.ChannelsFirst) |> ignore)) "x" "names x"
            }

            test "ArrayToImage/SaveImage refuse an image larger than MaxImagePixels before materialising it" {
                torchReady 0
                // A broadcast view: 60000x60000 pixels without memory behind them; converting it would need 28 GB.
                use one = torch.zeros(1L, 1L, 1L)
                use huge = one.expand(60000L, 60000L, 1L)
                throwsKind<ArgumentException> [ "MaxImagePixels" ] (fun () -> Images.ArrayToImage(huge) |> ignore)
                withTree (fun dir ->
                    let path = Path.Combine(dir, "huge.png")
                    throwsKind<ArgumentException> [ "MaxImagePixels" ] (fun () -> Images.SaveImage(path, huge))
                    Expect.isFalse (File.Exists path) "no file is left behind")
            }

            test "ArrayToImage: integer, bool and negative-valued tensors are converted, not refused or wrapped around" {
                torchReady 0
                use ints = torch.tensor([| 0L; 5L; 10L; 255L |]).reshape(2L, 2L, 1L)
                use bmp = Images.ArrayToImage(ints, scale = false)
                use back = Images.ImageToArray bmp
                Expect.equal (floats back) [| 0f; 5f; 10f; 255f |] "int64 values kept"
                use neg = torch.tensor([| -2.0; 0.0; 2.0; 0.0 |]).reshape(2L, 2L, 1L)
                use bmpNeg = Images.ArrayToImage(neg)
                use backNeg = Images.ImageToArray bmpNeg
                Expect.equal (floats backNeg) [| 0f; 128f; 255f; 128f |] "scaled: min to 0, max to 255"
            }

            test "ImageToArray: null, empty and unsupported bitmaps give ArgumentException naming image" {
                throwsKind<ArgumentNullException> [] (fun () -> Images.ImageToArray null |> ignore)
                use empty = new SKBitmap()
                Expect.equal (paramOf (fun () -> Images.ImageToArray empty |> ignore)) "image" "empty bitmap"
                use f16 = new SKBitmap(SKImageInfo(2, 2, SKColorType.RgbaF16, SKAlphaType.Unpremul))
                Expect.equal (paramOf (fun () -> Images.ImageToArray f16 |> ignore)) "image" "RgbaF16"
            }

            test "SaveImage: bad path, format and quality are refused before a file is written; a directory or a missing folder is named" {
                torchReady 0
                use img = torch.full(4L, 4L, 3L, 100.0)
                withTree (fun dir ->
                    throwsKind<ArgumentNullException> [] (fun () -> Images.SaveImage(null, img))
                    throwsKind<ArgumentNullException> [] (fun () -> Images.SaveImage(Path.Combine(dir, "a.png"), null))
                    Expect.equal (paramOf (fun () -> Images.SaveImage(Path.Combine(dir, "a.gif"), img))) "fileFormat" "gif"
                    Expect.equal (paramOf (fun () -> Images.SaveImage(Path.Combine(dir, "noext"), img))) "fileFormat" "no extension"
                    Expect.equal (paramOf (fun () -> Images.SaveImage(Path.Combine(dir, "a.jpg"), img, quality = -1))) "quality" "quality -1"
                    Expect.equal (paramOf (fun () -> Images.SaveImage(Path.Combine(dir, "a.jpg"), img, quality = 101))) "quality" "quality 101"
                    Expect.isEmpty (Directory.GetFileSystemEntries dir) "nothing written"
                    let folder = Path.Combine(dir, "taken.png")
                    Directory.CreateDirectory folder |> ignore
                    throwsKind<ArgumentException> [ folder; "directory" ] (fun () -> Images.SaveImage(folder, img))
                    let nowhere = Path.Combine(dir, "missing", "a.png")
                    throwsKind<DirectoryNotFoundException> [ "missing" ] (fun () -> Images.SaveImage(nowhere, img)))
            }
        ]

        testList "ImageDatasetFromDirectory" [
            test "missing directory, a file instead of one, and empty trees name the directory" {
                withTree (fun dir ->
                    let missing = Path.Combine(dir, "nope")
                    throwsKind<DirectoryNotFoundException> [ missing ] (fun () -> Images.ImageDatasetFromDirectory missing |> ignore)
                    let file = Path.Combine(dir, "file.png")
                    File.WriteAllBytes(file, png 0)
                    throwsKind<DirectoryNotFoundException> [ file; "not a directory" ] (fun () -> Images.ImageDatasetFromDirectory file |> ignore)
                    let empty = Path.Combine(dir, "empty")
                    Directory.CreateDirectory(Path.Combine(empty, "a")) |> ignore
                    Directory.CreateDirectory(Path.Combine(empty, "b")) |> ignore
                    throwsKind<ArgumentException> [ "No images found"; empty ] (fun () -> Images.ImageDatasetFromDirectory empty |> ignore)
                    throwsKind<ArgumentNullException> [] (fun () -> Images.ImageDatasetFromDirectory null |> ignore))
            }

            test "scalar arguments out of range are refused by name: batchSize, imageSize, split, subset, labelMode, prefetch, workers" {
                withTree (fun dir ->
                    smallTree dir 2 3
                    let name (f: unit -> ImageDataset) = paramOf (fun () -> f () |> ignore)
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, batchSize = 0))) "batchSize" "batchSize 0"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, batchSize = -4))) "batchSize" "batchSize -4"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, imageSize = size 0 28))) "imageSize" "imageSize 0"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, imageSize = size Int32.MaxValue Int32.MaxValue))) "imageSize" "imageSize huge"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, imageSize = size 9000 9000, batchSize = 32))) "batchSize" "a batch past Array.MaxLength"
                    for split in [ Double.NaN; -0.1; 1.0; 1.5; Double.PositiveInfinity ] do
                        Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable split, subset = "training", seed = Nullable 1))) "validationSplit" (string split)
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, subset = "training", seed = Nullable 1))) "subset" "subset without split"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, seed = Nullable 1))) "validationSplit" "split without subset"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "testing", seed = Nullable 1))) "subset" "unknown subset"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "both", seed = Nullable 1))) "subset" "both through the single-dataset call"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "training"))) "seed" "split and shuffle without seed"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = "sparse"))) "labelMode" "unknown label mode"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, prefetchBatches = Nullable 0))) "prefetchBatches" "prefetch 0"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, workers = Nullable -1))) "workers" "workers -1"
                    for split in [ Double.NaN; 0.0; 1.0 ] do
                        Expect.isTrue (paramOf (fun () -> Images.ImageDatasetsFromDirectory(dir, split, 1) |> ignore) <> null) (sprintf "both with split %g" split)
                    ())
            }

            test "labels: length mismatch, negative values, gaps for categorical; classNames not matching the folders" {
                withTree (fun dir ->
                    smallTree dir 2 3   // 6 files in zero/ and one/
                    let files = 6
                    let name (f: unit -> ImageDataset) = paramOf (fun () -> f () |> ignore)
                    let ls (xs: int list) = ResizeArray xs :> Collections.Generic.IReadOnlyList<int>
                    let names (xs: string list) = ResizeArray xs :> Collections.Generic.IReadOnlyList<string>
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labels = ls [ 0; 1 ]))) "labels" "too few labels"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labels = ls (List.replicate (files + 1) 0)))) "labels" "too many"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labels = ls [ 0; 1; -1; 0; 1; 0 ]))) "labels" "negative"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labels = ls [ 0; 1; Int32.MinValue; 0; 1; 0 ]))) "labels" "int.MinValue"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labels = ls [ 0; 5; 0; 5; 0; 5 ], labelMode = "categorical"))) "labels" "gap"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, classNames = names [ "zero"; "two" ]))) "classNames" "unknown folder"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, classNames = names [ "zero"; "zero" ]))) "classNames" "duplicate"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, classNames = names [ "zero"; null ]))) "classNames" "null name"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, classNames = names [ "zero"; "one" ], labels = ls (List.replicate files 0)))) "classNames" "both labels and classNames"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = null, classNames = names [ "zero" ]))) "classNames" "classNames without labels"
                    Expect.equal (name (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = "binary", classNames = names [ "zero" ]))) "labelMode" "binary with one class")
            }

            test "symbolic-link loops with followLinks=true end, and every image is listed once" {
                withTree (fun dir ->
                    smallTree dir 2 2
                    let zero = Path.Combine(dir, "zero")
                    Directory.CreateSymbolicLink(Path.Combine(zero, "up"), dir) |> ignore            // absolute, to the root
                    Directory.CreateSymbolicLink(Path.Combine(zero, "self"), ".") |> ignore           // relative, to itself
                    Directory.CreateSymbolicLink(Path.Combine(dir, "one", "sideways"), "../zero") |> ignore
                    let ds = finishes 20 "indexing a tree with link cycles" (fun () -> Images.ImageDatasetFromDirectory(dir, followLinks = true, shuffle = false, imageSize = size 28 28))
                    Expect.isGreaterThanOrEqual ds.Count 4 "the real files are found"
                    Expect.isLessThanOrEqual ds.Count 12 "a cycle is not walked more than once per link"
                    let plain = Images.ImageDatasetFromDirectory(dir, followLinks = false, shuffle = false, imageSize = size 28 28)
                    Expect.equal plain.Count 4 "without followLinks the links are not entered")
            }

            test "a file deleted, corrupted or replaced by a folder after listing: the error names it, the workers stop" {
                torchReady 0
                withTree (fun dir ->
                    smallTree dir 2 4
                    let ds = Images.ImageDatasetFromDirectory(dir, colorMode = gray, imageSize = size 28 28, batchSize = 2, shuffle = false, prefetchBatches = Nullable 2, workers = Nullable 2)
                    let victims = [ ds.FilePaths.[2]; ds.FilePaths.[5] ; ds.FilePaths.[6] ]
                    File.Delete victims.[0]
                    File.WriteAllBytes(victims.[1], Array.init 300 byte)
                    File.Delete victims.[2]
                    Directory.CreateDirectory victims.[2] |> ignore
                    let e = ds.Batches(0).GetEnumerator()
                    let p = e :?> ImageDataset.Prefetcher
                    Expect.isTrue (e.MoveNext()) "batch 0 is intact"
                    throwsKind<FileNotFoundException> [ victims.[0] ] (fun () -> e.MoveNext() |> ignore)
                    throwsKind<InvalidDataException> [ victims.[1] ] (fun () -> e.MoveNext() |> ignore)
                    throwsKind<FileNotFoundException> [ victims.[2]; "directory" ] (fun () -> e.MoveNext() |> ignore)
                    finishes 20 "disposing the enumeration" (fun () -> e.Dispose(); e.Dispose())
                    Expect.equal p.InFlight 0 "no worker left"
                    throwsKind<ObjectDisposedException> [] (fun () -> e.MoveNext() |> ignore))
            }

            test "a named pipe in the tree fails its batch naming it; the prefetch workers do not block on it" {
                if OperatingSystem.IsLinux() then
                    torchReady 0
                    withTree (fun dir ->
                        smallTree dir 2 2
                        let fifo = Path.Combine(dir, "one", "zz-pipe.png")
                        use mk = Diagnostics.Process.Start("mkfifo", fifo)
                        mk.WaitForExit()
                        let ds = Images.ImageDatasetFromDirectory(dir, colorMode = gray, imageSize = size 28 28, batchSize = 5, shuffle = false)
                        Expect.equal ds.Count 5 "the pipe is listed as a file"
                        finishes 20 "reading an epoch with a pipe in it" (fun () ->
                            use e = ds.Batches(0).GetEnumerator()
                            throwsKind<InvalidDataException> [ fifo ] (fun () -> e.MoveNext() |> ignore)))
            }

            test "Fit over a dataset with a corrupt file fails naming it, and its prefetch workers are stopped; so is a callback's exception" {
                torchReady 3
                withTree (fun dir ->
                    smallTree dir 10 4
                    let ds = Images.ImageDatasetFromDirectory(dir, colorMode = gray, imageSize = size 28 28, batchSize = 4, shuffle = false, prefetchBatches = Nullable 3)
                    let net, model = digitModel 4L
                    use _net = net
                    let watched = Watched ds
                    let bad = ds.FilePaths.[21]
                    File.WriteAllBytes(bad, Array.zeroCreate 64)
                    throwsKind<InvalidDataException> [ bad ] (fun () -> model.Fit(watched, epochs = 1, verbose = quiet) |> ignore)
                    for e in watched.Enumerators do Expect.equal (e :?> ImageDataset.Prefetcher).InFlight 0 "workers stopped after the error"
                    File.WriteAllBytes(bad, png 0)
                    let watched2 = Watched ds
                    let thrower = ThrowingCallback 1
                    throwsKind<InvalidOperationException> [ "on purpose" ] (fun () -> model.Fit(watched2, epochs = 2, verbose = quiet, callbacks = [ thrower :> Callback ]) |> ignore)
                    for e in watched2.Enumerators do Expect.equal (e :?> ImageDataset.Prefetcher).InFlight 0 "workers stopped after the callback threw"
                    let h = model.Fit(ds, epochs = 1, verbose = quiet)
                    Expect.isTrue (Double.IsFinite h.Values.["loss"].[0]) "the model still trains afterwards")
            }
        ]

        testList "Async" [
            test "null and out-of-range arguments are thrown at once, before a task starts" {
                torchReady 1
                let net, model = digitModel 1L
                use _n = net
                let x, y = digits.Value
                throwsKind<ArgumentNullException> [] (fun () -> model.FitAsync((null: torch.Tensor), y) |> ignore)
                throwsKind<ArgumentNullException> [] (fun () -> model.FitAsync(x, (null: torch.Tensor)) |> ignore)
                throwsKind<ArgumentNullException> [] (fun () -> model.FitAsync((null: IBatchSource)) |> ignore)
                Expect.equal (paramOf (fun () -> model.FitAsync(x, y, batchSize = 0) |> ignore)) "batchSize" "batchSize 0"
                Expect.equal (paramOf (fun () -> model.FitAsync(x, y, epochs = -1) |> ignore)) "epochs" "epochs -1"
                Expect.equal (paramOf (fun () -> model.FitAsync(x, y, validationSplit = Double.NaN) |> ignore)) "validationSplit" "NaN split"
                Expect.equal (paramOf (fun () -> model.FitAsync(x, y, validationBatchSize = Nullable 0) |> ignore)) "validationBatchSize" "validationBatchSize 0"
                Expect.equal (paramOf (fun () -> model.FitAsync(x, y, stepsPerEpoch = Nullable 0) |> ignore)) "stepsPerEpoch" "stepsPerEpoch 0"
                Expect.equal (paramOf (fun () -> model.EvaluateAsync(x, y, batchSize = -1) |> ignore)) "batchSize" "evaluate batch"
                Expect.equal (paramOf (fun () -> model.PredictAsync(x, batchSize = 0) |> ignore)) "batchSize" "predict batch"
                throwsKind<ArgumentNullException> [] (fun () -> model.PredictAsync((null: torch.Tensor)) |> ignore)
                throwsKind<ArgumentNullException> [] (fun () -> model.EvaluateAsync((null: IBatchSource)) |> ignore)
            }

            test "cancelled before the start, during validation and after completion: canceled or completed, weights whole" {
                torchReady 2
                let net, model = digitModel 2L
                use _n = net
                let x, y = digits.Value
                let before = weightsOf net
                use cts = new CancellationTokenSource()
                cts.Cancel()
                expectCancelled (model.FitAsync(x, y, epochs = 1, verbose = quiet, cancellationToken = cts.Token))
                Expect.equal (weightsOf net) before "a token cancelled already starts nothing"
                // Cancel while validation batches are read: the epoch's steps are kept, the epoch gets no History entry.
                use during = new CancellationTokenSource()
                let x0, y0 = x.narrow(0L, 0L, 64L), y.narrow(0L, 0L, 64L)
                let valSource =
                    { new IBatchSource with
                        member _.StepsPerEpoch = 2
                        member _.Batches _ =
                            during.Cancel()
                            Seq.init 2 (fun _ -> Batch([ x0.alias() ], [ y0.alias() ])) }
                let task = model.FitAsync(TensorDataset([ x ], [ y ], 32, false), epochs = 2, verbose = quiet, validationData = valSource, cancellationToken = during.Token)
                expectCancelled task
                Expect.isEmpty model.History.Epochs "the cancelled epoch is not recorded"
                Expect.notEqual (weightsOf net) before "the epoch's steps were applied"
                for w in weightsOf net do Expect.all w Single.IsFinite "weights are whole numbers, not NaN"
                // Cancelling after completion changes nothing.
                use after = new CancellationTokenSource()
                let done' = model.FitAsync(x, y, epochs = 1, verbose = quiet, cancellationToken = after.Token)
                let h = done'.GetAwaiter().GetResult()
                after.Cancel()
                Expect.isTrue done'.IsCompletedSuccessfully "completed stays completed"
                Expect.equal h.Epochs.Count 1 "one epoch"
            }

            test "disposing the network while FitAsync runs ends it with ObjectDisposedException, never a native crash" {
                torchReady 5
                let net, model = digitModel 5L
                let x, y = digits.Value
                use reached = new ManualResetEventSlim(false)
                use go = new ManualResetEventSlim(false)
                let pause = OnBatch(fun b -> if b = 1 then reached.Set(); go.Wait())
                let task = model.FitAsync(x, y, batchSize = 16, epochs = 3, verbose = quiet, callbacks = [ pause :> Callback ])
                Expect.isTrue (reached.Wait(TimeSpan.FromSeconds 30.0)) "fit reached batch 1"
                net.Dispose()
                go.Set()
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> task.GetAwaiter().GetResult() |> ignore)
                Expect.isTrue net.IsDisposed "disposed"
                throwsKind<ObjectDisposedException> [] (fun () -> model.PredictAsync(x).GetAwaiter().GetResult() |> ignore)
                throwsKind<ObjectDisposedException> [] (fun () -> model.EvaluateAsync(x, y).GetAwaiter().GetResult() |> ignore)
                net.Dispose()
            }

            test "a batch source with no batches, negative steps or a null sequence is refused by name, never scored as loss 0" {
                torchReady 8
                let net, model = digitModel 8L
                use _n = net
                let source steps (batches: int -> Collections.Generic.IEnumerable<Batch>) =
                    { new IBatchSource with
                        member _.StepsPerEpoch = steps
                        member _.Batches e = batches e }
                let empty = source 3 (fun _ -> Seq.empty)
                let negative = source -2 (fun _ -> Seq.empty)
                let nothing = source 2 (fun _ -> null)
                let before = weightsOf net
                throwsKind<ArgumentException> [ "no batches" ] (fun () -> model.EvaluateAsync(empty).GetAwaiter().GetResult() |> ignore)
                throwsKind<ArgumentException> [ "StepsPerEpoch=-2" ] (fun () -> model.EvaluateAsync(negative).GetAwaiter().GetResult() |> ignore)
                throwsKind<ArgumentException> [ "StepsPerEpoch=-2" ] (fun () -> model.FitAsync(negative, verbose = quiet).GetAwaiter().GetResult() |> ignore)
                throwsKind<InvalidOperationException> [ "returned null" ] (fun () -> model.FitAsync(nothing, verbose = quiet).GetAwaiter().GetResult() |> ignore)
                throwsKind<InvalidOperationException> [ "returned null" ] (fun () -> model.Evaluate(nothing) |> ignore)
                Expect.equal (weightsOf net) before "nothing trained"
            }

            test "bad validation data is refused before the first training step, so the weights stay as they were" {
                torchReady 10
                let net, model = digitModel 10L
                use _n = net
                let x, y = digits.Value
                let before = weightsOf net
                use flat = x.reshape(320L, 784L)
                use wrongLabels = torch.tensor(Array.create 320 12L)
                use short = y.narrow(0L, 0L, 100L)
                Expect.equal (paramOf (fun () -> model.Fit(x, y, epochs = 1, verbose = quiet, validationData = ValidationData(flat, y)) |> ignore)) "validationData" "wrong input shape"
                Expect.equal (paramOf (fun () -> model.Fit(x, y, epochs = 1, verbose = quiet, validationData = ValidationData(x, short)) |> ignore)) "validationData" "fewer targets than inputs"
                throwsKind<ArgumentException> [ "12" ] (fun () -> model.FitAsync(x, y, epochs = 1, verbose = quiet, validationData = ValidationData(x, wrongLabels)).GetAwaiter().GetResult() |> ignore)
                Expect.equal (weightsOf net) before "no training step ran"
            }

            test "a very wide resize target from a tall image is refused by name instead of overflowing a buffer size" {
                torchReady 0
                let saved = Images.MaxImagePixels
                try
                    Images.MaxImagePixels <- 2_000_000_000L
                    let tall = withDeclaredSize (png 0) 28 28   // a real 28x28 PNG
                    Expect.equal (paramOf (fun () -> Images.DecodeImage(tall, targetSize = size 1 100_000_000) |> ignore)) "targetSize" "28 x 100M x 3 does not fit"
                    Expect.equal (paramOf (fun () -> Images.DecodeImage(tall, targetSize = size 30_000 30_000) |> ignore)) "targetSize" "900M x 4 does not fit"
                finally
                    Images.MaxImagePixels <- saved
            }

            test "disposed tensors are an ObjectDisposedException, not TorchSharp's 'empty handle'" {
                torchReady 11
                let net, model = digitModel 11L
                use _n = net
                let x, y = digits.Value
                let gone = x.narrow(0L, 0L, 8L).clone()
                gone.Dispose()
                let goneY = y.narrow(0L, 0L, 8L).clone()
                goneY.Dispose()
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> model.FitAsync(gone, y.narrow(0L, 0L, 8L), verbose = quiet).GetAwaiter().GetResult() |> ignore)
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> model.FitAsync(x.narrow(0L, 0L, 8L), goneY, verbose = quiet).GetAwaiter().GetResult() |> ignore)
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> model.PredictAsync(gone).GetAwaiter().GetResult() |> ignore)
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> model.EvaluateAsync(gone, goneY).GetAwaiter().GetResult() |> ignore)
                throwsKind<ObjectDisposedException> [ "disposed" ] (fun () -> Images.ArrayToImage(gone) |> ignore)
            }

            test "a cancel racing the fit from another thread ends it canceled or completed, never half an epoch in History or NaN weights" {
                torchReady 12
                let net, model = digitModel 12L
                use _n = net
                let x, y = digits.Value
                for i in 0 .. 7 do
                    use cts = new CancellationTokenSource()
                    let task = model.FitAsync(x, y, batchSize = 32, epochs = 2, verbose = quiet, cancellationToken = cts.Token)
                    let canceller = Task.Run(fun () -> Thread.SpinWait(i * 20_000); cts.Cancel())
                    let _ =
                        try
                            task.Wait()
                            true
                        with :? AggregateException as e when (e.InnerException :? OperationCanceledException) -> false
                    canceller.Wait()
                    Expect.isTrue (task.IsCanceled || task.IsCompletedSuccessfully) (sprintf "run %d ends canceled or completed, not faulted (%A)" i task.Status)
                    if task.IsCompletedSuccessfully then Expect.equal model.History.Epochs.Count 2 "a completed fit has both epochs"
                    else Expect.isLessThan model.History.Epochs.Count 2 "a canceled fit records only finished epochs"
                    for w in weightsOf net do Expect.all w Single.IsFinite "weights stay finite"
                let h = model.Fit(x, y, epochs = 1, verbose = quiet)
                Expect.isTrue (Double.IsFinite h.Values.["loss"].[0]) "fit works after the races"
            }

            test "two FitAsync on one model at once both finish, one after the other (documented)" {
                torchReady 6
                let net, model = digitModel 6L
                use _n = net
                let x, y = digits.Value
                let active = ref 0
                let overlap = ref false
                let mk () =
                    { new Callback() with
                        override _.OnTrainBegin _ = if Interlocked.Increment(&active.contents) > 1 then overlap.Value <- true
                        override _.OnTrainEnd _ = Interlocked.Decrement(&active.contents) |> ignore }
                let a = model.FitAsync(x, y, epochs = 2, verbose = quiet, callbacks = [ mk () ])
                let b = model.FitAsync(x, y, epochs = 2, verbose = quiet, callbacks = [ mk () ])
                let ha = a.GetAwaiter().GetResult()
                let hb = b.GetAwaiter().GetResult()
                Expect.isFalse overlap.Value "the fits did not interleave"
                Expect.equal (ha.Epochs.Count, hb.Epochs.Count) (2, 2) "each has its own history"
                let doc = File.ReadAllText(Path.Combine(Functional.Tests.ExampleScriptTests.repoRoot (), "docs", "thread-safety.md"))
                Expect.stringContains doc "FitAsync" "thread-safety.md covers the async calls"
            }

            test "an exception from a callback or an IProgress handler is the task's exception; the model trains afterwards" {
                torchReady 7
                let net, model = digitModel 7L
                use _n = net
                let x, y = digits.Value
                let task = model.FitAsync(x, y, epochs = 1, verbose = quiet, callbacks = [ ThrowingCallback 2 :> Callback ])
                throwsKind<InvalidOperationException> [ "on purpose" ] (fun () -> task.GetAwaiter().GetResult() |> ignore)
                Expect.isTrue task.IsFaulted "faulted, not canceled"
                let progress = { new IProgress<TrainingProgress> with member _.Report p = if p.Step = 3 then raise (FormatException "progress handler broke") }
                let task2 = model.FitAsync(x, y, epochs = 1, verbose = quiet, progress = progress)
                throwsKind<FormatException> [ "handler broke" ] (fun () -> task2.GetAwaiter().GetResult() |> ignore)
                let ptask = model.PredictAsync(x, progress = progress)
                throwsKind<FormatException> [ "handler broke" ] (fun () -> ptask.GetAwaiter().GetResult() |> ignore)
                let h = model.FitAsync(x, y, epochs = 1, verbose = quiet).GetAwaiter().GetResult()
                Expect.isTrue (Double.IsFinite h.Values.["loss"].[0]) "fit works after the failures"
            }
        ]

        testList "Service" [
            test "start-up: an unknown short switch, a bad --urls and a port in use are one message and exit code 2" {
                torchReady 9
                let dir = Directory.CreateTempSubdirectory("functional-hostile-service-").FullName
                try
                    let model = Sequential(Input(4), Dense(2))
                    let config = Path.Combine(dir, "tiny.json")
                    File.WriteAllText(config, model.ToJson())
                    do
                        use net = BuiltNetwork.Build model
                        net.SaveWeights(ServedModel.WeightsPathFor config)
                    use taken = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
                    taken.Start()
                    let port = (taken.LocalEndpoint :?> Net.IPEndPoint).Port
                    let error = Console.Error
                    use captured = new StringWriter()
                    Console.SetError captured
                    try
                        let run args = finishes 60 (sprintf "the service with %A" args) (fun () -> ServiceHost.RunAsync(args).Result)
                        Expect.equal (run [| "--model"; config; "-x"; "5" |]) 2 "an unknown short switch"
                        Expect.equal (ServiceOptions.UnknownSwitch [| "--value-range"; "-1,1"; "--batch-size=4"; "--max-instances"; "-3" |]) null "values that start with '-' are values"
                        Expect.equal (run [| "--model"; config; "--urls"; "notaurl" |]) 2 "a URL without a scheme"
                        Expect.equal (run [| "--model"; config; "--urls"; sprintf "http://127.0.0.1:%d" port |]) 2 "a port in use"
                    finally
                        Console.SetError error
                    let text = captured.ToString()
                    for f in [ "Unknown option '-x'"; "notaurl"; sprintf "Cannot listen on http://127.0.0.1:%d" port ] do
                        Expect.stringContains text f "stderr names the problem"
                finally
                    try Directory.Delete(dir, true) with _ -> ()
            }
        ]
    ]
