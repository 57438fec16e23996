/// Images from disk: decoding real MNIST digits written as PNG/JPEG, hostile bytes, resampling against torch, and
/// image_dataset_from_directory over a folder tree of digits (labels, splits, seeded order, prefetch, training through fit).
module Functional.Tests.ImageTests

open System
open System.IO
open System.Runtime.InteropServices
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
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

let digits = lazy (DigitSet.Load(DigitSet.FindRepositoryData "mnist"))

/// The 784 source bytes of digit `i`.
let digitBytes (i: int) = digits.Value.Images.[i * DigitSet.Pixels .. (i + 1) * DigitSet.Pixels - 1]

/// Digit `i` as an 8-bit gray bitmap.
let digitBitmap (i: int) =
    let bmp = new SKBitmap(SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque))
    let src = digitBytes i
    for r in 0 .. 27 do
        Marshal.Copy(src, r * 28, bmp.GetPixels() + nativeint (r * bmp.RowBytes), 28)
    bmp

/// Encodes with SkiaSharp directly (not through the code under test).
let encode (bmp: SKBitmap) (format: SKEncodedImageFormat) (quality: int) =
    use img = SKImage.FromBitmap bmp
    use data = img.Encode(format, quality)
    data.ToArray()

let png i = use b = digitBitmap i in encode b SKEncodedImageFormat.Png 100
let jpeg i = use b = digitBitmap i in encode b SKEncodedImageFormat.Jpeg 95

/// A C# `(int Height, int Width)?` argument.
let size (h: int) (w: int) : Nullable<struct (int * int)> = Nullable(struct (h, w))

let floats (t: torch.Tensor) = t.contiguous().data<float32>().ToArray()
let shapeOf (t: torch.Tensor) = List.ofArray t.shape

let withTree (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-images-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

/// Class folder names whose sorted order is not the digits' order (eight, five, four, nine, one, …).
let classWords = [| "zero"; "one"; "two"; "three"; "four"; "five"; "six"; "seven"; "eight"; "nine" |]

/// Writes the first `perClass` test digits of each class as `root/<word>/<index>.png`; every `jpegEvery`-th as .jpg.
let writeDigitTree (root: string) (perClass: int) (jpegEvery: int) =
    let set = digits.Value
    let counts = Array.zeroCreate 10
    for i in 0 .. set.Count - 1 do
        let c = int set.Labels.[i]
        if counts.[c] < perClass then
            counts.[c] <- counts.[c] + 1
            let folder = Path.Combine(root, classWords.[c])
            Directory.CreateDirectory folder |> ignore
            let asJpeg = jpegEvery > 0 && counts.[c] % jpegEvery = 0
            File.WriteAllBytes(Path.Combine(folder, sprintf "%05d.%s" i (if asJpeg then "jpg" else "png")), if asJpeg then jpeg i else png i)

/// The MNIST index a tree file was written from.
let sourceIndex (path: string) = int (Path.GetFileNameWithoutExtension path)

/// A PNG's bytes with the IHDR width and height replaced (CRC recomputed, so only the size lies).
let withDeclaredSize (bytes: byte[]) (width: int) (height: int) =
    let b = Array.copy bytes
    let put (at: int) (v: uint32) = b.[at] <- byte (v >>> 24); b.[at + 1] <- byte (v >>> 16); b.[at + 2] <- byte (v >>> 8); b.[at + 3] <- byte v
    put 16 (uint32 width)
    put 20 (uint32 height)
    let mutable crc = 0xFFFFFFFFu
    for i in 12 .. 28 do
        crc <- crc ^^^ uint32 b.[i]
        for _ in 0 .. 7 do
            crc <- if crc &&& 1u <> 0u then (crc >>> 1) ^^^ 0xEDB88320u else crc >>> 1
    put 29 (crc ^^^ 0xFFFFFFFFu)
    b

/// Stops fit after its first training batch.
type StopAfterFirstBatch() =
    inherit Callback()
    member val Batches = 0 with get, set
    override this.OnTrainBatchEnd(_, _) =
        this.Batches <- this.Batches + 1
        this.Model.StopTraining <- true

[<Tests>]
let tests =
    testSequenced <| testList "Images" [
        test "a PNG digit decodes to exactly its source bytes: grayscale (28, 28, 1), RGB repeats them, RGBA adds alpha 255" {
            torchReady 160
            for i in [ 0; 1; 7; 4242; 9999 ] do
                let expected = digitBytes i |> Array.map float32
                use gray = Images.DecodeImage(png i, ColorMode.Grayscale)
                Expect.equal (shapeOf gray) [ 28L; 28L; 1L ] "HWC, one channel"
                Expect.equal gray.dtype torch.ScalarType.Float32 "float32"
                Expect.equal (floats gray) expected (sprintf "digit %d: every pixel equals the source byte (0..255, not rescaled)" i)
                use rgb = Images.DecodeImage(png i)
                Expect.equal (shapeOf rgb) [ 28L; 28L; 3L ] "RGB is the default"
                Expect.equal (floats rgb) (expected |> Array.collect (fun v -> [| v; v; v |])) "gray repeated in R, G, B"
                use rgba = Images.DecodeImage(png i, ColorMode.Rgba)
                Expect.equal (floats rgba) (expected |> Array.collect (fun v -> [| v; v; v; 255f |])) "opaque alpha"
        }

        test "a hand-written 24-bit BMP decodes to its pixels (bottom-up rows, BGR, padded rows), and grayscale is 601 luma" {
            torchReady 172
            // 2×3 image: top row red, green, blue; bottom row white, black, (10, 20, 30).
            let top = [ 255, 0, 0; 0, 255, 0; 0, 0, 255 ]
            let bottom = [ 255, 255, 255; 0, 0, 0; 10, 20, 30 ]
            let row (pixels: (int * int * int) list) = [| for r, g, b in pixels do yield! [| byte b; byte g; byte r |]
                                                          yield! Array.zeroCreate 3 |]   // 9 bytes padded to 12
            let data = Array.append (row bottom) (row top)
            let le32 (v: int) = BitConverter.GetBytes v
            let le16 (v: int16) = BitConverter.GetBytes v
            let header =
                Array.concat [ "BM"B; le32 (54 + data.Length); le32 0; le32 54
                               le32 40; le32 3; le32 2; le16 1s; le16 24s; le32 0; le32 data.Length; le32 2835; le32 2835; le32 0; le32 0 ]
            let bmp = Array.append header data
            use rgb = Images.DecodeImage(bmp)
            Expect.equal (shapeOf rgb) [ 2L; 3L; 3L ] "(2, 3, 3)"
            let expected = [ for r, g, b in top @ bottom do yield! [ float32 r; float32 g; float32 b ] ]
            Expect.equal (List.ofArray (floats rgb)) expected "top row first, RGB order"
            use gray = Images.DecodeImage(bmp, ColorMode.Grayscale)
            let luma (r, g, b) = float32 ((299 * r + 587 * g + 114 * b + 500) / 1000)
            Expect.equal (List.ofArray (floats gray)) (List.map luma (top @ bottom)) "(299R + 587G + 114B) / 1000, rounded"
        }

        test "a JPEG digit decodes close to its source; file, bytes and stream decode alike" {
            torchReady 161
            withTree (fun dir ->
                for i in [ 3; 500; 8000 ] do
                    let expected = digitBytes i |> Array.map float32
                    let path = Path.Combine(dir, sprintf "%d.jpg" i)
                    File.WriteAllBytes(path, jpeg i)
                    use fromFile = Images.LoadImage(path, ColorMode.Grayscale)
                    let got = floats fromFile
                    let errors = Array.map2 (fun (a: float32) b -> abs (a - b)) got expected
                    Expect.isLessThan (Array.average errors) 3.0f (sprintf "digit %d: mean error of a quality-95 JPEG" i)
                    Expect.isLessThan (Array.max errors) 64.0f "no pixel far off"
                    use fromBytes = Images.DecodeImage(File.ReadAllBytes path, ColorMode.Grayscale)
                    use stream = File.OpenRead path
                    use fromStream = Images.DecodeImage(stream, ColorMode.Grayscale)
                    Expect.equal (floats fromBytes) got "bytes = file"
                    Expect.equal (floats fromStream) got "stream = file")
        }

        test "non-images, truncated PNG/JPEG and empty data are refused with InvalidDataException, never a native crash" {
            torchReady 162
            let p, j = png 5, jpeg 5
            let cases =
                [ "garbage", Array.init 4096 (fun i -> byte ((i * 7919 + 13) % 251)), [ "not a PNG, JPEG" ]
                  "text", Text.Encoding.UTF8.GetBytes "this is not an image, just a sentence about digits", [ "not a PNG, JPEG" ]
                  "empty", [||], [ "empty" ]
                  "PNG signature only", p.[.. 7], [ "Cannot decode" ]
                  "PNG header only", p.[.. 40], [ "Cannot decode" ]
                  "half a PNG", p.[.. p.Length / 2], [ "truncated" ]
                  "half a JPEG", j.[.. j.Length / 2], [ "truncated" ]
                  // A valid WBMP header (type 0, 10×10): Skia would decode it, but only the listed formats are accepted.
                  "WBMP", Array.append [| 0uy; 0uy; 10uy; 10uy |] (Array.zeroCreate 20), [ "not supported" ] ]
            for _, bytes, fragments in cases do
                throwsWith<InvalidDataException> ("Cannot decode" :: fragments) (fun () -> Images.DecodeImage(bytes) |> ignore)
            withTree (fun dir ->
                let path = Path.Combine(dir, "broken.png")
                File.WriteAllBytes(path, p.[.. p.Length / 2])
                throwsWith<InvalidDataException> [ path; "truncated" ] (fun () -> Images.LoadImage path |> ignore)
                throwsWith<FileNotFoundException> [ "missing.png" ] (fun () -> Images.LoadImage(Path.Combine(dir, "missing.png")) |> ignore))
        }

        test "decompression bombs: a header declaring more than MaxImagePixels is refused before decoding; the limit is checked" {
            torchReady 163
            let bomb = withDeclaredSize (png 5) 50_000 50_000
            let allocated = GC.GetAllocatedBytesForCurrentThread()
            throwsWith<InvalidDataException> [ "50000x50000"; "2500000000 pixels"; "MaxImagePixels" ] (fun () -> Images.DecodeImage(bomb) |> ignore)
            Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - allocated) (16L <<< 20) "no pixel buffer for the declared size"
            // Below the limit the same lie is caught as truncated data by the decoder.
            throwsWith<InvalidDataException> [ "truncated" ] (fun () -> Images.DecodeImage(withDeclaredSize (png 5) 2000 1000) |> ignore)
            Expect.equal Images.MaxImagePixels 89_478_485L "PIL's default"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Images.MaxImagePixels <- 0L) "a non-positive limit is refused"
            use s = new MemoryStream(png 5)
            throwsWith<InvalidDataException> [ "maxBytes = 100" ] (fun () -> Images.DecodeImage(s, maxBytes = 100L) |> ignore)
            // A service's own, lower limit: the declared size, read from the header alone.
            let allocated = GC.GetAllocatedBytesForCurrentThread()
            Expect.equal (Images.ReadImageSize bomb) (50_000, 50_000) "the declared (height, width) of the bomb"
            Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - allocated) (1L <<< 20) "no pixels decoded"
            Expect.equal (Images.ReadImageSize(withDeclaredSize (png 5) 2000 1000)) (1000, 2000) "height, width"
            throwsWith<InvalidDataException> [ "not a PNG, JPEG" ] (fun () -> Images.ReadImageSize(Text.Encoding.ASCII.GetBytes "hello") |> ignore)
            throwsWith<InvalidDataException> [ "empty" ] (fun () -> Images.ReadImageSize([||]) |> ignore)
        }

        test "resizing is tf.image.resize: bilinear and nearest equal torch's half-pixel interpolate, area equals average pooling" {
            torchReady 164
            let i = 77
            use src = Images.DecodeImage(png i, ColorMode.Grayscale)
            use nchw = src.permute(2L, 0L, 1L).unsqueeze(0L)
            let viaTorch (mode: torch.InterpolationMode) (h: int) (w: int) =
                use r = torch.nn.functional.interpolate(nchw, [| int64 h; int64 w |], mode = mode, align_corners = (if mode = torch.InterpolationMode.Bilinear then Nullable false else Nullable()))
                floats (r.squeeze(0L).permute(1L, 2L, 0L).clamp(0.0.ToScalar(), 255.0.ToScalar()))
            for h, w in [ 40, 40; 17, 23; 56, 9; 14, 14 ] do
                use bilinear = Images.DecodeImage(png i, ColorMode.Grayscale, (size h w), Interpolation.Bilinear)
                Expect.equal (shapeOf bilinear) [ int64 h; int64 w; 1L ] "resized shape"
                let ours, theirs = floats bilinear, viaTorch torch.InterpolationMode.Bilinear h w
                Expect.isLessThan (Array.map2 (fun (a: float32) b -> abs (a - b)) ours theirs |> Array.max) 1e-3f (sprintf "bilinear %dx%d" h w)
                use nearest = Images.DecodeImage(png i, ColorMode.Grayscale, (size h w), Interpolation.Nearest)
                Expect.equal (floats nearest) (viaTorch torch.InterpolationMode.NearestExact h w) (sprintf "nearest %dx%d" h w)
            for f in [ 2; 4 ] do
                use area = Images.DecodeImage(png i, ColorMode.Grayscale, (size (28 / f) (28 / f)), Interpolation.Area)
                use pooled = torch.nn.functional.avg_pool2d(nchw, [| int64 f; int64 f |])
                let expected = floats (pooled.squeeze(0L).permute(1L, 2L, 0L))
                Expect.isLessThan (Array.map2 (fun (a: float32) b -> abs (a - b)) (floats area) expected |> Array.max) 1e-3f (sprintf "area /%d" f)
            // Bicubic (Keys, a = −½) keeps a constant image constant and a linear ramp linear away from the edges.
            use flat = Images.ArrayToImage(torch.full([| 6L; 6L; 1L |], 100.0.ToScalar()), scale = false)
            use flatT = Images.ImageToArray(flat)
            Expect.isTrue ((floats flatT) |> Array.forall ((=) 100f)) "a constant bitmap reads back"
            let rampPng =
                use bmp = Images.ArrayToImage(torch.arange(0.0.ToScalar(), 200.0.ToScalar(), 10.0.ToScalar()).reshape(1L, 20L, 1L).expand(4L, 20L, 1L).contiguous(), scale = false)
                use img = SKImage.FromBitmap bmp
                use data = img.Encode(SKEncodedImageFormat.Png, 100)
                data.ToArray()
            use cubic = Images.DecodeImage(rampPng, ColorMode.Grayscale, (size 4 40), Interpolation.Bicubic)
            let row = (floats cubic).[0 .. 39]
            for o in 4 .. 35 do
                close 1e-3 (float row.[o]) (10.0 * ((float o + 0.5) / 2.0 - 0.5)) (sprintf "ramp column %d" o)
        }

        test "keepAspectRatio crops the centred box of the target's aspect ratio before resizing (Keras's load_img)" {
            torchReady 165
            let i = 1234
            use full = Images.DecodeImage(png i, ColorMode.Grayscale)
            // Target (14, 28): the crop is 14 rows × 28 columns starting at row 7, so no resampling is left to do.
            use cropped = Images.DecodeImage(png i, ColorMode.Grayscale, (size 14 28), keepAspectRatio = true)
            use expected = full.narrow(0L, 7L, 14L)
            Expect.equal (floats cropped) (floats expected) "rows 7..20"
            use tall = Images.DecodeImage(png i, ColorMode.Grayscale, (size 28 7), keepAspectRatio = true)
            use expectedTall = full.narrow(1L, 10L, 7L)
            Expect.equal (floats tall) (floats expectedTall) "columns 10..16"
            use stretched = Images.DecodeImage(png i, ColorMode.Grayscale, (size 14 28))
            Expect.notEqual (floats stretched) (floats cropped) "without it the whole image is squeezed"
            throwsWith<ArgumentException> [ "targetSize"; "(0, 28)" ] (fun () -> Images.DecodeImage(png i, targetSize = (size 0 28)) |> ignore)
            throwsWith<ArgumentException> [ "targetSize"; "MaxImagePixels" ] (fun () -> Images.DecodeImage(png i, targetSize = (size 100_000 100_000)) |> ignore)
        }

        test "ImageToArray, ArrayToImage and SaveImage round-trip: PNG exactly, JPEG closely, channels_first, Keras's scaling" {
            torchReady 166
            withTree (fun dir ->
                use gray = Images.DecodeImage(png 42, ColorMode.Grayscale)
                let pngPath = Path.Combine(dir, "x.png")
                Images.SaveImage(pngPath, gray, scale = false)
                use back = Images.LoadImage(pngPath, ColorMode.Grayscale)
                Expect.equal (floats back) (floats gray) "PNG is lossless"
                use rgb = Images.DecodeImage(png 42)
                Images.SaveImage(Path.Combine(dir, "x.jpg"), rgb, scale = false)
                use jpg = Images.LoadImage(Path.Combine(dir, "x.jpg"))
                Expect.isLessThan (Array.map2 (fun (a: float32) b -> abs (a - b)) (floats jpg) (floats rgb) |> Array.average) 4.0f "JPEG close"
                use chw = rgb.permute(2L, 0L, 1L).contiguous()
                use bmp = Images.ArrayToImage(chw, DataFormat.ChannelsFirst, scale = false)
                use again = Images.ImageToArray(bmp, DataFormat.ChannelsFirst)
                Expect.equal (shapeOf again) [ 3L; 28L; 28L ] "channels_first"
                Expect.equal (floats again) (floats chw) "RGB bitmap round-trip"
                // scale=true maps [min, max] to [0, 255], as Keras's array_to_img.
                use unit = gray / torch.tensor 255.0f - torch.tensor 0.5f
                use scaledBmp = Images.ArrayToImage(unit)
                use scaled = Images.ImageToArray(scaledBmp)
                Expect.equal (floats scaled) (floats gray) "rescaled back to the source bytes"
                throwsWith<ArgumentException> [ "rank 3" ] (fun () -> Images.ArrayToImage(torch.zeros(28L, 28L)) |> ignore)
                throwsWith<ArgumentException> [ "channel number: 2" ] (fun () -> Images.ArrayToImage(torch.zeros(4L, 4L, 2L)) |> ignore)
                throwsWith<ArgumentException> [ "[0, 255]"; "300" ] (fun () -> Images.ArrayToImage(torch.full([| 2L; 2L; 1L |], 300.0.ToScalar()), scale = false) |> ignore)
                throwsWith<ArgumentException> [ "'gif'" ] (fun () -> Images.SaveImage(Path.Combine(dir, "x.gif"), gray) |> ignore))
        }

        test "ImageDatasetFromDirectory: class names are the sorted folders; labels, pixels and files match the tree; non-images and hidden folders are skipped" {
            torchReady 167
            withTree (fun dir ->
                writeDigitTree dir 6 3   // 60 images, every third of a class a JPEG
                File.WriteAllText(Path.Combine(dir, "one", "notes.txt"), "not an image")
                Directory.CreateDirectory(Path.Combine(dir, ".cache")) |> ignore
                File.WriteAllBytes(Path.Combine(dir, ".cache", "00000.png"), png 0)
                let nested = Path.Combine(dir, "two", "more")
                Directory.CreateDirectory nested |> ignore
                let extra = Array.findIndexBack ((=) 2uy) digits.Value.Labels
                File.WriteAllBytes(Path.Combine(nested, sprintf "%05d.PNG" extra), png extra)
                let ds = Images.ImageDatasetFromDirectory(dir, colorMode = ColorMode.Grayscale, imageSize = (size 28 28), shuffle = false, batchSize = 8)
                Expect.equal (List.ofSeq ds.ClassNames) (List.sort (List.ofArray classWords)) "sorted folder names (eight, five, four, …)"
                Expect.equal ds.Count 61 "60 + one nested .PNG; the .txt and the hidden folder are skipped"
                Expect.equal ds.StepsPerEpoch 8 "⌈61/8⌉"
                Expect.equal (List.ofSeq ds.FilePaths) (List.sort (List.ofSeq ds.FilePaths)) "unshuffled: sorted by folder, then name"
                for path, label in Seq.zip ds.FilePaths ds.Labels do
                    Expect.equal ds.ClassNames.[label] (classWords.[int digits.Value.Labels.[sourceIndex path]]) (sprintf "label of %s" path)
                let mutable seen = 0
                for b in ds.Batches 0 do
                    Expect.equal (shapeOf b.Inputs.[0]) [ b.Size; 28L; 28L; 1L ] "(batch, 28, 28, 1)"
                    Expect.equal b.Targets.[0].dtype torch.ScalarType.Int64 "int labels"
                    let xs, ys = floats b.Inputs.[0], b.Targets.[0].data<int64>().ToArray()
                    for k in 0 .. int b.Size - 1 do
                        let path = ds.FilePaths.[seen + k]
                        Expect.equal (int ys.[k]) ds.Labels.[seen + k] "label in file order"
                        let source = digitBytes (sourceIndex path) |> Array.map float32
                        let image = xs.[k * 784 .. k * 784 + 783]
                        if path.EndsWith ".jpg" then
                            Expect.isLessThan (Array.map2 (fun (a: float32) b -> abs (a - b)) image source |> Array.average) 3.0f path
                        else Expect.equal image source path
                    seen <- seen + int b.Size
                Expect.equal seen 61 "every image once")
        }

        test "ImageDatasetFromDirectory: seeded order repeats, reshuffles per epoch, splits without overlap; label modes; explicit labels and class names" {
            torchReady 168
            withTree (fun dir ->
                writeDigitTree dir 5 0
                let make seed subset = Images.ImageDatasetFromDirectory(dir, seed = Nullable seed, validationSplit = Nullable 0.2, subset = subset, imageSize = (size 28 28))
                let a, b, c = make 7 "training", make 7 "training", make 8 "training"
                Expect.equal (List.ofSeq a.FilePaths) (List.ofSeq b.FilePaths) "same seed, same files"
                Expect.notEqual (List.ofSeq a.FilePaths) (List.ofSeq c.FilePaths) "another seed, another split"
                Expect.equal (a.EpochOrder 3) (b.EpochOrder 3) "same seed, same epoch order"
                Expect.notEqual (a.EpochOrder 0) (a.EpochOrder 1) "each epoch reshuffles"
                let v = make 7 "validation"
                Expect.equal (a.Count, v.Count) (40, 10) "floor(0.2·50) = 10 validation files"
                Expect.isEmpty (Set.intersect (set a.FilePaths) (set v.FilePaths)) "disjoint"
                Expect.equal (Set.union (set a.FilePaths) (set v.FilePaths)).Count 50 "together, all files"
                let struct (t2, v2) = Images.ImageDatasetsFromDirectory(dir, 0.2, 7, imageSize = (size 28 28))
                Expect.equal (List.ofSeq t2.FilePaths, List.ofSeq v2.FilePaths) (List.ofSeq a.FilePaths, List.ofSeq v.FilePaths) "subset \"both\" = the two calls"
                Expect.isFalse v2.Shuffle "the validation half of \"both\" keeps its order"
                // Batches follow EpochOrder, in order, epoch after epoch.
                // Written as the README shows F# callers: plain values for the C# nullable arguments.
                let small = Images.ImageDatasetFromDirectory(dir, colorMode = ColorMode.Grayscale, imageSize = struct (28, 28), batchSize = 16, seed = 3)
                for epoch in [ 0; 1 ] do
                    let order = small.EpochOrder epoch
                    let labels = [ for bt in small.Batches epoch do yield! bt.Targets.[0].data<int64>().ToArray() |> Array.map int ]
                    Expect.equal labels [ for i in order -> small.Labels.[i] ] (sprintf "epoch %d labels follow its order" epoch)
                // Label modes.
                let first (ds: ImageDataset) = ds.Batches 0 |> Seq.head
                let cat = first (Images.ImageDatasetFromDirectory(dir, labelMode = "categorical", imageSize = (size 8 8), batchSize = 4, seed = Nullable 1))
                Expect.equal (shapeOf cat.Targets.[0]) [ 4L; 10L ] "one-hot rows"
                Expect.equal (shapeOf cat.Inputs.[0]) [ 4L; 8L; 8L; 3L ] "resized RGB"
                Expect.isTrue (cat.Targets.[0].sum(1L).eq(1.0f.ToScalar()).all().item<bool>()) "one 1 per row"
                let none = first (Images.ImageDatasetFromDirectory(dir, labelMode = null, imageSize = (size 8 8)))
                Expect.isEmpty none.Targets "no labels"
                let pair = Path.Combine(dir, "pair")
                for word in [ "one"; "zero" ] do
                    Directory.CreateDirectory(Path.Combine(pair, word)) |> ignore
                    for f in Directory.GetFiles(Path.Combine(dir, word)) do File.Copy(f, Path.Combine(pair, word, Path.GetFileName f))
                let bin = Images.ImageDatasetFromDirectory(pair, labelMode = "binary", imageSize = (size 8 8), shuffle = false)
                Expect.equal (List.ofSeq bin.ClassNames) [ "one"; "zero" ] "two classes"
                Expect.equal (shapeOf (first bin).Targets.[0]) [ 10L; 1L ] "(batch, 1) floats"
                // Class names choose and order the classes.
                let picked = Images.ImageDatasetFromDirectory(dir, classNames = [| "two"; "one" |], imageSize = (size 8 8), shuffle = false)
                Expect.equal picked.Count 10 "only the named classes"
                Expect.equal (List.ofSeq picked.Labels) (List.replicate 5 0 @ List.replicate 5 1) "in the given order"
                // Explicit labels, in the sorted order of the file paths.
                let paths = Images.ImageDatasetFromDirectory(pair, imageSize = (size 8 8), shuffle = false).FilePaths
                let explicitLabels = [| for i in 0 .. paths.Count - 1 -> i % 3 |]
                let byList = Images.ImageDatasetFromDirectory(pair, labels = explicitLabels, imageSize = (size 8 8), shuffle = false)
                Expect.equal (List.ofSeq byList.Labels) (List.ofArray explicitLabels) "labels as given"
                Expect.equal (List.ofSeq byList.ClassNames) [ "0"; "1"; "2" ] "class names are the sorted labels")
        }

        test "ImageDatasetFromDirectory rejects bad arguments with Keras's messages" {
            torchReady 169
            withTree (fun dir ->
                writeDigitTree dir 2 0
                let empty = Path.Combine(dir, "empty")
                Directory.CreateDirectory(Path.Combine(empty, "a")) |> ignore
                let imageSize = (size 8 8)
                let fails fragments (f: unit -> ImageDataset) = throwsWith<ArgumentException> fragments (fun () -> f () |> ignore)
                fails [ "No images found in directory"; "Allowed formats"; ".png" ] (fun () -> Images.ImageDatasetFromDirectory(empty))
                fails [ "`validation_split` must be between 0 and 1"; "1.5" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 1.5, subset = "training", seed = Nullable 1))
                fails [ "If `subset` is set, `validation_split` must be set" ] (fun () -> Images.ImageDatasetFromDirectory(dir, subset = "training", seed = Nullable 1))
                fails [ "If `subset` is set, `validation_split` must be set" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, seed = Nullable 1))
                fails [ "`subset` must be either"; "testing" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "testing", seed = Nullable 1))
                fails [ "you must provide a `seed` argument" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "training"))
                fails [ "ImageDatasetsFromDirectory" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.2, subset = "both", seed = Nullable 1))
                fails [ "No training images found"; "validationSplit=0.01" ] (fun () -> Images.ImageDatasetFromDirectory(dir, validationSplit = Nullable 0.01, subset = "training", seed = Nullable 1))
                fails [ "`label_mode` argument must be one of"; "sparse" ] (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = "sparse"))
                fails [ "When passing `label_mode=\"binary\"`, there must be exactly 2 class_names" ] (fun () -> Images.ImageDatasetFromDirectory(dir, labelMode = "binary"))
                fails [ "did not match the names of the subdirectories"; "'seven'"; "'ten'" ] (fun () -> Images.ImageDatasetFromDirectory(dir, classNames = [| "seven"; "ten" |]))
                fails [ "You can only pass `class_names` if `labels=\"inferred\"`" ] (fun () -> Images.ImageDatasetFromDirectory(dir, labels = [| 0 |], classNames = [| "one" |]))
                fails [ "Expected the lengths of `labels` to match"; "len(labels) is 3 while we found 20 files" ] (fun () -> Images.ImageDatasetFromDirectory(dir, labels = [| 0; 1; 2 |]))
                fails [ "batchSize=0" ] (fun () -> Images.ImageDatasetFromDirectory(dir, batchSize = 0))
                fails [ "imageSize"; "(8, -1)" ] (fun () -> Images.ImageDatasetFromDirectory(dir, imageSize = (size 8 -1)))
                fails [ "batchSize"; "does not fit one buffer" ] (fun () -> Images.ImageDatasetFromDirectory(dir, batchSize = 100_000, imageSize = (size 256 256)))
                throwsWith<DirectoryNotFoundException> [ "no-such-dir" ] (fun () -> Images.ImageDatasetFromDirectory(Path.Combine(dir, "no-such-dir")) |> ignore)
                // A corrupt file surfaces when its batch is read, naming the file; the other batches' workers are stopped.
                let bad = Path.Combine(dir, "one", "99999.png")
                File.WriteAllBytes(bad, (png 1).[.. 60])
                let ds = Images.ImageDatasetFromDirectory(dir, imageSize = imageSize, batchSize = 2, shuffle = false)
                throwsWith<InvalidDataException> [ bad ] (fun () -> for _ in ds.Batches 0 do ()))
        }

        test "the next batches are decoded on worker threads while the consumer holds the current one; disposing stops them" {
            torchReady 171
            withTree (fun dir ->
                writeDigitTree dir 8 0
                let ds = Images.ImageDatasetFromDirectory(dir, imageSize = (size 28 28), batchSize = 8, seed = Nullable 2, prefetchBatches = Nullable 3)
                use e = ds.Batches(0).GetEnumerator()
                let p = e :?> ImageDataset.Prefetcher
                Expect.equal p.InFlight 3 "three batches queued before the first is asked for (the bound)"
                Expect.isTrue (e.MoveNext()) "first batch"
                Expect.equal p.InFlight 3 "the queue is topped up to its bound, not beyond"
                // Without another MoveNext, the queued batches finish decoding in the background.
                Expect.isTrue (Threading.SpinWait.SpinUntil((fun () -> p.ReadyAhead = 3), TimeSpan.FromMinutes 2.0)) "decoded ahead"
                let mutable n = 1
                while e.MoveNext() do n <- n + 1
                Expect.equal n ds.StepsPerEpoch "every batch once"
                e.Dispose()
                Expect.equal p.InFlight 0 "nothing left running after Dispose"
                Expect.throwsT<ObjectDisposedException> (fun () -> e.MoveNext() |> ignore) "a disposed enumeration cannot continue")
        }

        test "fit trains on a folder of real digit PNGs through the streaming dataset, to > 80% accuracy on held-out images" {
            torchReady 170
            withTree (fun dir ->
                writeDigitTree dir 100 10   // 1,000 digits, a tenth as JPEG
                let struct (train, valid) =
                    Images.ImageDatasetsFromDirectory(dir, 0.2, 1337, colorMode = ColorMode.Grayscale, imageSize = (size 28 28), batchSize = 32)
                Expect.equal (train.Count, valid.Count) (800, 200) "an 80/20 split"
                use net = BuiltNetwork.Build(Sequential(Input(28, 28, 1), Rescaling(FloatTuple(1.0 / 255.0)), Flatten(), Dense(64, activation = "relu"), Dense(10, activation = "softmax")))
                let model = net.Compile(Adam(learningRate = 0.003), SparseCategoricalCrossentropy(), [| "accuracy" |])
                model.Fit(train, epochs = 1, verbose = quiet) |> ignore   // warm-up, so the tensor count below is steady
                GC.Collect(); GC.WaitForPendingFinalizers()
                let before = liveTensors ()
                let history = model.Fit(train, epochs = 10, verbose = quiet, validationData = valid)
                GC.Collect(); GC.WaitForPendingFinalizers()
                Expect.equal (liveTensors ()) before "the batches' tensors are released by fit's scopes"
                Expect.isLessThan history.["loss"].[9] history.["loss"].[0] "the loss falls"
                let scores = model.Evaluate(valid, verbose = quiet)
                Expect.isGreaterThan scores.["accuracy"] 0.8 (sprintf "held-out accuracy %.3f" scores.["accuracy"])
                // Fit stopping after one batch disposes the prefetching enumerator cleanly, and the dataset is reusable.
                let stop = StopAfterFirstBatch()
                model.Fit(train, epochs = 3, verbose = quiet, callbacks = [ stop :> Callback ]) |> ignore
                Expect.equal stop.Batches 1 "stopped after one batch"
                let again = model.Evaluate(valid, verbose = quiet)
                Expect.isGreaterThan again.["accuracy"] 0.8 "the model and the dataset still work")
        }
    ]
