set terminal pngcairo size 1500,450 font 'sans,10'
set termoption noenhanced
set output 'docs/images/noise_scaling.png.tmp'
set datafile separator ','
set grid
set key off
set multiplot layout 1,3 title 'straight_through_gumbel noise layer, forward + backward, 32x28x28 per image'
set ylabel 'million elements per second'
set yrange [0:*]
set xlabel 'k (from the largest rate)'
set logscale x
plot 'docs/images/noise_scaling_k.csv' skip 1 using 1:4 with linespoints pt 7 lw 2
set xlabel 'images per batch'
plot 'docs/images/noise_scaling_batch.csv' skip 1 using 1:4 with linespoints pt 7 lw 2
unset logscale x
set xlabel 'share of exact zeros'
plot 'docs/images/noise_scaling_zeros.csv' skip 1 using 1:4 with linespoints pt 7 lw 2
unset multiplot
